import datetime

from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceType(_message.Message):
    __slots__ = ("id", "display_name", "traits", "annotations", "description", "sourced_externally")
    class Trait(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TRAIT_UNSPECIFIED: _ClassVar[ResourceType.Trait]
        TRAIT_USER: _ClassVar[ResourceType.Trait]
        TRAIT_GROUP: _ClassVar[ResourceType.Trait]
        TRAIT_ROLE: _ClassVar[ResourceType.Trait]
        TRAIT_APP: _ClassVar[ResourceType.Trait]
        TRAIT_SECRET: _ClassVar[ResourceType.Trait]
        TRAIT_SECURITY_INSIGHT: _ClassVar[ResourceType.Trait]
        TRAIT_SCOPE_BINDING: _ClassVar[ResourceType.Trait]
    TRAIT_UNSPECIFIED: ResourceType.Trait
    TRAIT_USER: ResourceType.Trait
    TRAIT_GROUP: ResourceType.Trait
    TRAIT_ROLE: ResourceType.Trait
    TRAIT_APP: ResourceType.Trait
    TRAIT_SECRET: ResourceType.Trait
    TRAIT_SECURITY_INSIGHT: ResourceType.Trait
    TRAIT_SCOPE_BINDING: ResourceType.Trait
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCED_EXTERNALLY_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    traits: _containers.RepeatedScalarFieldContainer[ResourceType.Trait]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    description: str
    sourced_externally: bool
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., traits: _Optional[_Iterable[_Union[ResourceType.Trait, str]]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., description: _Optional[str] = ..., sourced_externally: bool = ...) -> None: ...

class ResourceId(_message.Message):
    __slots__ = ("resource_type", "resource", "baton_resource")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    BATON_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource_type: str
    resource: str
    baton_resource: bool
    def __init__(self, resource_type: _Optional[str] = ..., resource: _Optional[str] = ..., baton_resource: bool = ...) -> None: ...

class AssetRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("status", "details")
    class ResourceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RESOURCE_STATUS_UNSPECIFIED: _ClassVar[Status.ResourceStatus]
        RESOURCE_STATUS_ENABLED: _ClassVar[Status.ResourceStatus]
        RESOURCE_STATUS_DISABLED: _ClassVar[Status.ResourceStatus]
        RESOURCE_STATUS_DELETED: _ClassVar[Status.ResourceStatus]
    RESOURCE_STATUS_UNSPECIFIED: Status.ResourceStatus
    RESOURCE_STATUS_ENABLED: Status.ResourceStatus
    RESOURCE_STATUS_DISABLED: Status.ResourceStatus
    RESOURCE_STATUS_DELETED: Status.ResourceStatus
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    status: Status.ResourceStatus
    details: str
    def __init__(self, status: _Optional[_Union[Status.ResourceStatus, str]] = ..., details: _Optional[str] = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("id", "parent_resource_id", "display_name", "annotations", "description", "baton_resource", "creation_source", "profile", "icon", "status", "created_at")
    class CreationSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CREATION_SOURCE_UNSPECIFIED: _ClassVar[Resource.CreationSource]
        CREATION_SOURCE_CONNECTOR_LIST_RESOURCES: _ClassVar[Resource.CreationSource]
        CREATION_SOURCE_CONNECTOR_LIST_GRANTS_PRINCIPAL_JIT: _ClassVar[Resource.CreationSource]
    CREATION_SOURCE_UNSPECIFIED: Resource.CreationSource
    CREATION_SOURCE_CONNECTOR_LIST_RESOURCES: Resource.CreationSource
    CREATION_SOURCE_CONNECTOR_LIST_GRANTS_PRINCIPAL_JIT: Resource.CreationSource
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BATON_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATION_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: ResourceId
    parent_resource_id: ResourceId
    display_name: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    description: str
    baton_resource: bool
    creation_source: Resource.CreationSource
    profile: _struct_pb2.Struct
    icon: AssetRef
    status: Status
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[_Union[ResourceId, _Mapping]] = ..., parent_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., display_name: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., description: _Optional[str] = ..., baton_resource: bool = ..., creation_source: _Optional[_Union[Resource.CreationSource, str]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., icon: _Optional[_Union[AssetRef, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Entitlement(_message.Message):
    __slots__ = ("resource", "id", "display_name", "description", "grantable_to", "annotations", "purpose", "slug")
    class PurposeValue(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PURPOSE_VALUE_UNSPECIFIED: _ClassVar[Entitlement.PurposeValue]
        PURPOSE_VALUE_ASSIGNMENT: _ClassVar[Entitlement.PurposeValue]
        PURPOSE_VALUE_PERMISSION: _ClassVar[Entitlement.PurposeValue]
        PURPOSE_VALUE_OWNERSHIP: _ClassVar[Entitlement.PurposeValue]
    PURPOSE_VALUE_UNSPECIFIED: Entitlement.PurposeValue
    PURPOSE_VALUE_ASSIGNMENT: Entitlement.PurposeValue
    PURPOSE_VALUE_PERMISSION: Entitlement.PurposeValue
    PURPOSE_VALUE_OWNERSHIP: Entitlement.PurposeValue
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GRANTABLE_TO_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    id: str
    display_name: str
    description: str
    grantable_to: _containers.RepeatedCompositeFieldContainer[ResourceType]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    purpose: Entitlement.PurposeValue
    slug: str
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., grantable_to: _Optional[_Iterable[_Union[ResourceType, _Mapping]]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., purpose: _Optional[_Union[Entitlement.PurposeValue, str]] = ..., slug: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("entitlement", "principal", "id", "annotations", "sources")
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    entitlement: Entitlement
    principal: Resource
    id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    sources: GrantSources
    def __init__(self, entitlement: _Optional[_Union[Entitlement, _Mapping]] = ..., principal: _Optional[_Union[Resource, _Mapping]] = ..., id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., sources: _Optional[_Union[GrantSources, _Mapping]] = ...) -> None: ...

class UserTrait(_message.Message):
    __slots__ = ("emails", "status", "profile", "icon", "account_type", "login", "login_aliases", "created_at", "last_login", "mfa_status", "sso_status", "structured_name", "employee_ids")
    class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACCOUNT_TYPE_UNSPECIFIED: _ClassVar[UserTrait.AccountType]
        ACCOUNT_TYPE_HUMAN: _ClassVar[UserTrait.AccountType]
        ACCOUNT_TYPE_SERVICE: _ClassVar[UserTrait.AccountType]
        ACCOUNT_TYPE_SYSTEM: _ClassVar[UserTrait.AccountType]
    ACCOUNT_TYPE_UNSPECIFIED: UserTrait.AccountType
    ACCOUNT_TYPE_HUMAN: UserTrait.AccountType
    ACCOUNT_TYPE_SERVICE: UserTrait.AccountType
    ACCOUNT_TYPE_SYSTEM: UserTrait.AccountType
    class Email(_message.Message):
        __slots__ = ("address", "is_primary")
        ADDRESS_FIELD_NUMBER: _ClassVar[int]
        IS_PRIMARY_FIELD_NUMBER: _ClassVar[int]
        address: str
        is_primary: bool
        def __init__(self, address: _Optional[str] = ..., is_primary: bool = ...) -> None: ...
    class Status(_message.Message):
        __slots__ = ("status", "details")
        class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            STATUS_UNSPECIFIED: _ClassVar[UserTrait.Status.Status]
            STATUS_ENABLED: _ClassVar[UserTrait.Status.Status]
            STATUS_DISABLED: _ClassVar[UserTrait.Status.Status]
            STATUS_DELETED: _ClassVar[UserTrait.Status.Status]
        STATUS_UNSPECIFIED: UserTrait.Status.Status
        STATUS_ENABLED: UserTrait.Status.Status
        STATUS_DISABLED: UserTrait.Status.Status
        STATUS_DELETED: UserTrait.Status.Status
        STATUS_FIELD_NUMBER: _ClassVar[int]
        DETAILS_FIELD_NUMBER: _ClassVar[int]
        status: UserTrait.Status.Status
        details: str
        def __init__(self, status: _Optional[_Union[UserTrait.Status.Status, str]] = ..., details: _Optional[str] = ...) -> None: ...
    class MFAStatus(_message.Message):
        __slots__ = ("mfa_enabled",)
        MFA_ENABLED_FIELD_NUMBER: _ClassVar[int]
        mfa_enabled: bool
        def __init__(self, mfa_enabled: bool = ...) -> None: ...
    class SSOStatus(_message.Message):
        __slots__ = ("sso_enabled",)
        SSO_ENABLED_FIELD_NUMBER: _ClassVar[int]
        sso_enabled: bool
        def __init__(self, sso_enabled: bool = ...) -> None: ...
    class StructuredName(_message.Message):
        __slots__ = ("given_name", "family_name", "middle_names", "prefix", "suffix")
        GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
        FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
        MIDDLE_NAMES_FIELD_NUMBER: _ClassVar[int]
        PREFIX_FIELD_NUMBER: _ClassVar[int]
        SUFFIX_FIELD_NUMBER: _ClassVar[int]
        given_name: str
        family_name: str
        middle_names: _containers.RepeatedScalarFieldContainer[str]
        prefix: str
        suffix: str
        def __init__(self, given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., middle_names: _Optional[_Iterable[str]] = ..., prefix: _Optional[str] = ..., suffix: _Optional[str] = ...) -> None: ...
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    LOGIN_ALIASES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_LOGIN_FIELD_NUMBER: _ClassVar[int]
    MFA_STATUS_FIELD_NUMBER: _ClassVar[int]
    SSO_STATUS_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_NAME_FIELD_NUMBER: _ClassVar[int]
    EMPLOYEE_IDS_FIELD_NUMBER: _ClassVar[int]
    emails: _containers.RepeatedCompositeFieldContainer[UserTrait.Email]
    status: UserTrait.Status
    profile: _struct_pb2.Struct
    icon: AssetRef
    account_type: UserTrait.AccountType
    login: str
    login_aliases: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    last_login: _timestamp_pb2.Timestamp
    mfa_status: UserTrait.MFAStatus
    sso_status: UserTrait.SSOStatus
    structured_name: UserTrait.StructuredName
    employee_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, emails: _Optional[_Iterable[_Union[UserTrait.Email, _Mapping]]] = ..., status: _Optional[_Union[UserTrait.Status, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., icon: _Optional[_Union[AssetRef, _Mapping]] = ..., account_type: _Optional[_Union[UserTrait.AccountType, str]] = ..., login: _Optional[str] = ..., login_aliases: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_login: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mfa_status: _Optional[_Union[UserTrait.MFAStatus, _Mapping]] = ..., sso_status: _Optional[_Union[UserTrait.SSOStatus, _Mapping]] = ..., structured_name: _Optional[_Union[UserTrait.StructuredName, _Mapping]] = ..., employee_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GroupTrait(_message.Message):
    __slots__ = ("icon", "profile", "group_source_type")
    ICON_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    GROUP_SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    icon: AssetRef
    profile: _struct_pb2.Struct
    group_source_type: str
    def __init__(self, icon: _Optional[_Union[AssetRef, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., group_source_type: _Optional[str] = ...) -> None: ...

class RoleTrait(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _struct_pb2.Struct
    def __init__(self, profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AppTrait(_message.Message):
    __slots__ = ("help_url", "icon", "logo", "profile", "flags")
    class AppFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        APP_FLAG_UNSPECIFIED: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_HIDDEN: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_INACTIVE: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_SAML: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_OIDC: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_BOOKMARK: _ClassVar[AppTrait.AppFlag]
    APP_FLAG_UNSPECIFIED: AppTrait.AppFlag
    APP_FLAG_HIDDEN: AppTrait.AppFlag
    APP_FLAG_INACTIVE: AppTrait.AppFlag
    APP_FLAG_SAML: AppTrait.AppFlag
    APP_FLAG_OIDC: AppTrait.AppFlag
    APP_FLAG_BOOKMARK: AppTrait.AppFlag
    HELP_URL_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    LOGO_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    help_url: str
    icon: AssetRef
    logo: AssetRef
    profile: _struct_pb2.Struct
    flags: _containers.RepeatedScalarFieldContainer[AppTrait.AppFlag]
    def __init__(self, help_url: _Optional[str] = ..., icon: _Optional[_Union[AssetRef, _Mapping]] = ..., logo: _Optional[_Union[AssetRef, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., flags: _Optional[_Iterable[_Union[AppTrait.AppFlag, str]]] = ...) -> None: ...

class ScopeBindingTrait(_message.Message):
    __slots__ = ("role_id", "scope_resource_id")
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    role_id: ResourceId
    scope_resource_id: ResourceId
    def __init__(self, role_id: _Optional[_Union[ResourceId, _Mapping]] = ..., scope_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ...) -> None: ...

class SkipEntitlementsAndGrants(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChildResourceType(_message.Message):
    __slots__ = ("resource_type_id",)
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    def __init__(self, resource_type_id: _Optional[str] = ...) -> None: ...

class ETag(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class GrantExpandable(_message.Message):
    __slots__ = ("entitlement_ids", "shallow", "resource_type_ids")
    ENTITLEMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    SHALLOW_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_IDS_FIELD_NUMBER: _ClassVar[int]
    entitlement_ids: _containers.RepeatedScalarFieldContainer[str]
    shallow: bool
    resource_type_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, entitlement_ids: _Optional[_Iterable[str]] = ..., shallow: bool = ..., resource_type_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GrantImmutable(_message.Message):
    __slots__ = ("source_id", "metadata")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    metadata: _struct_pb2.Struct
    def __init__(self, source_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
