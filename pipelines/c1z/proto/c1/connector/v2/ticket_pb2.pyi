import datetime

from pipelines.c1z.proto.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from pipelines.c1z.proto.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TicketSchema(_message.Message):
    __slots__ = ("id", "display_name", "types", "statuses", "custom_fields", "annotations")
    class CustomFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TicketCustomField
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TicketCustomField, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELDS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    types: _containers.RepeatedCompositeFieldContainer[TicketType]
    statuses: _containers.RepeatedCompositeFieldContainer[TicketStatus]
    custom_fields: _containers.MessageMap[str, TicketCustomField]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., types: _Optional[_Iterable[_Union[TicketType, _Mapping]]] = ..., statuses: _Optional[_Iterable[_Union[TicketStatus, _Mapping]]] = ..., custom_fields: _Optional[_Mapping[str, TicketCustomField]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class TicketCustomField(_message.Message):
    __slots__ = ("id", "display_name", "required", "string_value", "string_values", "bool_value", "timestamp_value", "pick_string_value", "pick_multiple_string_values", "pick_object_value", "pick_multiple_object_values", "number_value", "annotations")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_VALUE_FIELD_NUMBER: _ClassVar[int]
    PICK_STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    PICK_MULTIPLE_STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    PICK_OBJECT_VALUE_FIELD_NUMBER: _ClassVar[int]
    PICK_MULTIPLE_OBJECT_VALUES_FIELD_NUMBER: _ClassVar[int]
    NUMBER_VALUE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    required: bool
    string_value: TicketCustomFieldStringValue
    string_values: TicketCustomFieldStringValues
    bool_value: TicketCustomFieldBoolValue
    timestamp_value: TicketCustomFieldTimestampValue
    pick_string_value: TicketCustomFieldPickStringValue
    pick_multiple_string_values: TicketCustomFieldPickMultipleStringValues
    pick_object_value: TicketCustomFieldPickObjectValue
    pick_multiple_object_values: TicketCustomFieldPickMultipleObjectValues
    number_value: TicketCustomFieldNumberValue
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., required: bool = ..., string_value: _Optional[_Union[TicketCustomFieldStringValue, _Mapping]] = ..., string_values: _Optional[_Union[TicketCustomFieldStringValues, _Mapping]] = ..., bool_value: _Optional[_Union[TicketCustomFieldBoolValue, _Mapping]] = ..., timestamp_value: _Optional[_Union[TicketCustomFieldTimestampValue, _Mapping]] = ..., pick_string_value: _Optional[_Union[TicketCustomFieldPickStringValue, _Mapping]] = ..., pick_multiple_string_values: _Optional[_Union[TicketCustomFieldPickMultipleStringValues, _Mapping]] = ..., pick_object_value: _Optional[_Union[TicketCustomFieldPickObjectValue, _Mapping]] = ..., pick_multiple_object_values: _Optional[_Union[TicketCustomFieldPickMultipleObjectValues, _Mapping]] = ..., number_value: _Optional[_Union[TicketCustomFieldNumberValue, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class TicketCustomFieldStringValue(_message.Message):
    __slots__ = ("value", "default_value")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    default_value: str
    def __init__(self, value: _Optional[str] = ..., default_value: _Optional[str] = ...) -> None: ...

class TicketCustomFieldStringValues(_message.Message):
    __slots__ = ("values", "default_values")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    default_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ..., default_values: _Optional[_Iterable[str]] = ...) -> None: ...

class TicketCustomFieldBoolValue(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: bool
    def __init__(self, value: bool = ...) -> None: ...

class TicketCustomFieldNumberValue(_message.Message):
    __slots__ = ("value", "default_value")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    value: _wrappers_pb2.FloatValue
    default_value: _wrappers_pb2.FloatValue
    def __init__(self, value: _Optional[_Union[_wrappers_pb2.FloatValue, _Mapping]] = ..., default_value: _Optional[_Union[_wrappers_pb2.FloatValue, _Mapping]] = ...) -> None: ...

class TicketCustomFieldTimestampValue(_message.Message):
    __slots__ = ("value", "default_value")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    value: _timestamp_pb2.Timestamp
    default_value: _timestamp_pb2.Timestamp
    def __init__(self, value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., default_value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TicketCustomFieldPickStringValue(_message.Message):
    __slots__ = ("value", "allowed_values", "default_value")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    allowed_values: _containers.RepeatedScalarFieldContainer[str]
    default_value: str
    def __init__(self, value: _Optional[str] = ..., allowed_values: _Optional[_Iterable[str]] = ..., default_value: _Optional[str] = ...) -> None: ...

class TicketCustomFieldPickMultipleStringValues(_message.Message):
    __slots__ = ("values", "allowed_values", "default_values")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    allowed_values: _containers.RepeatedScalarFieldContainer[str]
    default_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ..., allowed_values: _Optional[_Iterable[str]] = ..., default_values: _Optional[_Iterable[str]] = ...) -> None: ...

class TicketCustomFieldPickObjectValue(_message.Message):
    __slots__ = ("value", "allowed_values", "default_value")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    value: TicketCustomFieldObjectValue
    allowed_values: _containers.RepeatedCompositeFieldContainer[TicketCustomFieldObjectValue]
    default_value: TicketCustomFieldObjectValue
    def __init__(self, value: _Optional[_Union[TicketCustomFieldObjectValue, _Mapping]] = ..., allowed_values: _Optional[_Iterable[_Union[TicketCustomFieldObjectValue, _Mapping]]] = ..., default_value: _Optional[_Union[TicketCustomFieldObjectValue, _Mapping]] = ...) -> None: ...

class TicketCustomFieldPickMultipleObjectValues(_message.Message):
    __slots__ = ("values", "allowed_values", "default_values")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[TicketCustomFieldObjectValue]
    allowed_values: _containers.RepeatedCompositeFieldContainer[TicketCustomFieldObjectValue]
    default_values: _containers.RepeatedCompositeFieldContainer[TicketCustomFieldObjectValue]
    def __init__(self, values: _Optional[_Iterable[_Union[TicketCustomFieldObjectValue, _Mapping]]] = ..., allowed_values: _Optional[_Iterable[_Union[TicketCustomFieldObjectValue, _Mapping]]] = ..., default_values: _Optional[_Iterable[_Union[TicketCustomFieldObjectValue, _Mapping]]] = ...) -> None: ...

class TicketCustomFieldObjectValue(_message.Message):
    __slots__ = ("id", "display_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class TicketStatus(_message.Message):
    __slots__ = ("id", "display_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class TicketsServiceGetTicketSchemaRequest(_message.Message):
    __slots__ = ("id", "annotations")
    ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class TicketsServiceGetTicketSchemaResponse(_message.Message):
    __slots__ = ("schema", "annotations")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    schema: TicketSchema
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, schema: _Optional[_Union[TicketSchema, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class TicketsServiceListTicketSchemasRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "annotations")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class TicketsServiceListTicketSchemasResponse(_message.Message):
    __slots__ = ("list", "next_page_token", "annotations")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[TicketSchema]
    next_page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, list: _Optional[_Iterable[_Union[TicketSchema, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class Ticket(_message.Message):
    __slots__ = ("id", "display_name", "description", "assignees", "reporter", "status", "type", "labels", "url", "custom_fields", "created_at", "updated_at", "completed_at", "requested_for")
    class CustomFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TicketCustomField
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TicketCustomField, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEES_FIELD_NUMBER: _ClassVar[int]
    REPORTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    description: str
    assignees: _containers.RepeatedCompositeFieldContainer[_resource_pb2.Resource]
    reporter: _resource_pb2.Resource
    status: TicketStatus
    type: TicketType
    labels: _containers.RepeatedScalarFieldContainer[str]
    url: str
    custom_fields: _containers.MessageMap[str, TicketCustomField]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    requested_for: _resource_pb2.Resource
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., assignees: _Optional[_Iterable[_Union[_resource_pb2.Resource, _Mapping]]] = ..., reporter: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., status: _Optional[_Union[TicketStatus, _Mapping]] = ..., type: _Optional[_Union[TicketType, _Mapping]] = ..., labels: _Optional[_Iterable[str]] = ..., url: _Optional[str] = ..., custom_fields: _Optional[_Mapping[str, TicketCustomField]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_for: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ...) -> None: ...

class TicketType(_message.Message):
    __slots__ = ("id", "display_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class TicketRequest(_message.Message):
    __slots__ = ("display_name", "description", "status", "type", "labels", "custom_fields", "requested_for")
    class CustomFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TicketCustomField
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TicketCustomField, _Mapping]] = ...) -> None: ...
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELDS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FOR_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    description: str
    status: TicketStatus
    type: TicketType
    labels: _containers.RepeatedScalarFieldContainer[str]
    custom_fields: _containers.MessageMap[str, TicketCustomField]
    requested_for: _resource_pb2.Resource
    def __init__(self, display_name: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[_Union[TicketStatus, _Mapping]] = ..., type: _Optional[_Union[TicketType, _Mapping]] = ..., labels: _Optional[_Iterable[str]] = ..., custom_fields: _Optional[_Mapping[str, TicketCustomField]] = ..., requested_for: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ...) -> None: ...

class TicketsServiceCreateTicketRequest(_message.Message):
    __slots__ = ("request", "schema", "annotations")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    request: TicketRequest
    schema: TicketSchema
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, request: _Optional[_Union[TicketRequest, _Mapping]] = ..., schema: _Optional[_Union[TicketSchema, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class TicketsServiceCreateTicketResponse(_message.Message):
    __slots__ = ("ticket", "annotations", "error")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    error: str
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class TicketsServiceGetTicketRequest(_message.Message):
    __slots__ = ("id", "annotations")
    ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class TicketsServiceGetTicketResponse(_message.Message):
    __slots__ = ("ticket", "annotations", "error")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    error: str
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class TicketsServiceBulkCreateTicketsRequest(_message.Message):
    __slots__ = ("ticket_requests",)
    TICKET_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ticket_requests: _containers.RepeatedCompositeFieldContainer[TicketsServiceCreateTicketRequest]
    def __init__(self, ticket_requests: _Optional[_Iterable[_Union[TicketsServiceCreateTicketRequest, _Mapping]]] = ...) -> None: ...

class TicketsServiceBulkCreateTicketsResponse(_message.Message):
    __slots__ = ("tickets",)
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[TicketsServiceCreateTicketResponse]
    def __init__(self, tickets: _Optional[_Iterable[_Union[TicketsServiceCreateTicketResponse, _Mapping]]] = ...) -> None: ...

class TicketsServiceBulkGetTicketsRequest(_message.Message):
    __slots__ = ("ticket_requests",)
    TICKET_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ticket_requests: _containers.RepeatedCompositeFieldContainer[TicketsServiceGetTicketRequest]
    def __init__(self, ticket_requests: _Optional[_Iterable[_Union[TicketsServiceGetTicketRequest, _Mapping]]] = ...) -> None: ...

class TicketsServiceBulkGetTicketsResponse(_message.Message):
    __slots__ = ("tickets",)
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[TicketsServiceGetTicketResponse]
    def __init__(self, tickets: _Optional[_Iterable[_Union[TicketsServiceGetTicketResponse, _Mapping]]] = ...) -> None: ...
