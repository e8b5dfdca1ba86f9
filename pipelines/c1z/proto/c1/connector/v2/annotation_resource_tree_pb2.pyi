from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ChildResourceType(_message.Message):
    __slots__ = ("resource_type_id",)
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    def __init__(self, resource_type_id: _Optional[str] = ...) -> None: ...

class SkipEntitlementsAndGrants(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SkipGrants(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SkipEntitlements(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
