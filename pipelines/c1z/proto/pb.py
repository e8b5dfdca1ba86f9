"""The `c1.connector.v2` messages a `.c1z` carries, under one short name (`pb.Resource`, ...).

Why: the generated code is baton-sdk's own files (one module per `.proto`), so a message's home
depends on which upstream file declares it; the rest of the package should not care. Every name
here is the generated class itself, registered in the default descriptor pool under baton-sdk's
file paths, so `Any` annotations resolve by type URL exactly as in the Go SDK.
"""

from pipelines.c1z.proto.c1.connector.v2.annotation_etag_pb2 import ETag
from pipelines.c1z.proto.c1.connector.v2.annotation_grant_pb2 import GrantExpandable, GrantImmutable
from pipelines.c1z.proto.c1.connector.v2.annotation_resource_tree_pb2 import (
    ChildResourceType,
    SkipEntitlementsAndGrants,
)
from pipelines.c1z.proto.c1.connector.v2.annotation_trait_pb2 import (
    AppTrait,
    GroupTrait,
    RoleTrait,
    ScopeBindingTrait,
    UserTrait,
)
from pipelines.c1z.proto.c1.connector.v2.asset_pb2 import AssetRef
from pipelines.c1z.proto.c1.connector.v2.entitlement_pb2 import Entitlement
from pipelines.c1z.proto.c1.connector.v2.grant_pb2 import Grant, GrantSources
from pipelines.c1z.proto.c1.connector.v2.resource_pb2 import Resource, ResourceId, ResourceType, Status

__all__ = [
    "AppTrait",
    "AssetRef",
    "ChildResourceType",
    "ETag",
    "Entitlement",
    "Grant",
    "GrantExpandable",
    "GrantImmutable",
    "GrantSources",
    "GroupTrait",
    "Resource",
    "ResourceId",
    "ResourceType",
    "RoleTrait",
    "ScopeBindingTrait",
    "SkipEntitlementsAndGrants",
    "Status",
    "UserTrait",
]
