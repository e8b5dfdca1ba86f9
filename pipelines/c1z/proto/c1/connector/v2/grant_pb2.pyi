from pipelines.c1z.proto.c1.connector.v2 import entitlement_pb2 as _entitlement_pb2
from pipelines.c1z.proto.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from pipelines.c1z.proto.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GrantSources(_message.Message):
    __slots__ = ("sources",)
    class GrantSource(_message.Message):
        __slots__ = ("is_direct",)
        IS_DIRECT_FIELD_NUMBER: _ClassVar[int]
        is_direct: bool
        def __init__(self, is_direct: bool = ...) -> None: ...
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: GrantSources.GrantSource
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[GrantSources.GrantSource, _Mapping]] = ...) -> None: ...
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.MessageMap[str, GrantSources.GrantSource]
    def __init__(self, sources: _Optional[_Mapping[str, GrantSources.GrantSource]] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("entitlement", "principal", "id", "sources", "annotations")
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    entitlement: _entitlement_pb2.Entitlement
    principal: _resource_pb2.Resource
    id: str
    sources: GrantSources
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., principal: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., id: _Optional[str] = ..., sources: _Optional[_Union[GrantSources, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantsServiceListGrantsRequest(_message.Message):
    __slots__ = ("resource", "page_size", "page_token", "annotations", "active_sync_id")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    resource: _resource_pb2.Resource
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    active_sync_id: str
    def __init__(self, resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., active_sync_id: _Optional[str] = ...) -> None: ...

class GrantsServiceListGrantsResponse(_message.Message):
    __slots__ = ("list", "next_page_token", "annotations")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[Grant]
    next_page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, list: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantManagerServiceGrantRequest(_message.Message):
    __slots__ = ("entitlement", "principal", "annotations")
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    entitlement: _entitlement_pb2.Entitlement
    principal: _resource_pb2.Resource
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., principal: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantManagerServiceGrantResponse(_message.Message):
    __slots__ = ("annotations", "grants")
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ...) -> None: ...

class GrantManagerServiceRevokeRequest(_message.Message):
    __slots__ = ("grant", "annotations")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantManagerServiceRevokeResponse(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
