"""The test oracle of `pipelines/c1z/encode.py`: rows -> `c1.connector.v2` messages, built the plain
way with the protobuf library. Not library code: the writer encodes bytes directly, and
tests/c1z/test_encode.py proves its bytes equal the deterministic serialization of these messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from pipelines.c1z.encode import _RESOURCE_STATUS as RESOURCE_STATUS  # enum values, not logic
from pipelines.c1z.encode import _USER_STATUS as USER_STATUS
from pipelines.c1z.encode import GROUP_TYPE, USER_TYPE, pack_any, timestamp
from pipelines.c1z.ids import MEMBER_SLUG, entitlement_id
from pipelines.c1z.proto import pb
from pipelines.c1z.rows import EntitlementRow, GroupRow, UserRow


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def profile_struct(profile: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    """A Struct of the profile with None values dropped (at every depth); None when nothing is left."""
    cleaned = _without_none(profile or {})
    if not cleaned:
        return None
    struct = struct_pb2.Struct()
    struct.update(cleaned)
    return struct


def user_resource(user: UserRow) -> pb.Resource:
    """A user resource: UserTrait annotation, plus profile/status/created_at copied to fields 9/11/12."""
    profile = profile_struct(user.profile)
    created_at = timestamp(user.created_at) if user.created_at is not None else None
    trait = pb.UserTrait(
        emails=[pb.UserTrait.Email(address=address, is_primary=primary) for address, primary in user.emails],
        status=pb.UserTrait.Status(status=USER_STATUS[user.status], details=user.status_details or ""),
        profile=profile,
        account_type=pb.UserTrait.ACCOUNT_TYPE_HUMAN,
        login=user.login or "",
        login_aliases=user.login_aliases,
        created_at=created_at,
        last_login=timestamp(user.last_login) if user.last_login is not None else None,
        employee_ids=user.employee_ids,
    )
    if user.given_name or user.family_name:
        trait.structured_name.given_name = user.given_name or ""
        trait.structured_name.family_name = user.family_name or ""
    return pb.Resource(
        id=pb.ResourceId(resource_type=USER_TYPE, resource=user.user_id),
        display_name=user.display_name,
        annotations=[pack_any(trait)],
        profile=profile,
        status=pb.Status(status=RESOURCE_STATUS[user.status], details=user.status_details or ""),
        created_at=created_at,
    )


def group_resource(group: GroupRow) -> pb.Resource:
    """A group resource: GroupTrait annotation with the profile, profile also in field 9."""
    profile = profile_struct(group.profile)
    trait = pb.GroupTrait()
    resource = pb.Resource(
        id=pb.ResourceId(resource_type=GROUP_TYPE, resource=group.group_id),
        display_name=group.display_name,
        description=group.description or "",
    )
    if profile is not None:
        trait.profile.CopyFrom(profile)
        resource.profile.CopyFrom(profile)
    resource.annotations.append(pack_any(trait))
    return resource


def entitlement_message(
    entitlement: EntitlementRow, group: pb.Resource, grantable_to: list[pb.ResourceType]
) -> pb.Entitlement:
    """A group's `member` entitlement (purpose ASSIGNMENT, slug `member`) embedding the group resource."""
    return pb.Entitlement(
        resource=group,
        id=entitlement_id(entitlement.group_id),
        display_name=entitlement.display_name,
        description=entitlement.description or "",
        grantable_to=grantable_to,
        purpose=pb.Entitlement.PURPOSE_VALUE_ASSIGNMENT,
        slug=MEMBER_SLUG,
    )


def grant_message(group: pb.Resource, grant_id: str, principal_type: str, principal_id: str) -> pb.Grant:
    """The reference encoding of a grant (the fast path in this module must equal it)."""
    return pb.Grant(
        entitlement=pb.Entitlement(resource=group, id=entitlement_id(group.id.resource)),
        principal=pb.Resource(id=pb.ResourceId(resource_type=principal_type, resource=principal_id)),
        id=grant_id,
    )
