import datetime

from pipelines.c1z.proto.c1.connector.v2 import asset_pb2 as _asset_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from pipelines.c1z.proto.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CredentialResourceMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_RESOURCE_MODE_UNSPECIFIED: _ClassVar[CredentialResourceMode]
    CREDENTIAL_RESOURCE_MODE_DISCOVERABLE: _ClassVar[CredentialResourceMode]
    CREDENTIAL_RESOURCE_MODE_VIRTUAL: _ClassVar[CredentialResourceMode]
CREDENTIAL_RESOURCE_MODE_UNSPECIFIED: CredentialResourceMode
CREDENTIAL_RESOURCE_MODE_DISCOVERABLE: CredentialResourceMode
CREDENTIAL_RESOURCE_MODE_VIRTUAL: CredentialResourceMode

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
        TRAIT_VENDOR: _ClassVar[ResourceType.Trait]
        TRAIT_VENDOR_AGREEMENT: _ClassVar[ResourceType.Trait]
        TRAIT_LICENSE_PROFILE: _ClassVar[ResourceType.Trait]
        TRAIT_AGENT: _ClassVar[ResourceType.Trait]
        TRAIT_MANAGED_DEVICE: _ClassVar[ResourceType.Trait]
    TRAIT_UNSPECIFIED: ResourceType.Trait
    TRAIT_USER: ResourceType.Trait
    TRAIT_GROUP: ResourceType.Trait
    TRAIT_ROLE: ResourceType.Trait
    TRAIT_APP: ResourceType.Trait
    TRAIT_SECRET: ResourceType.Trait
    TRAIT_SECURITY_INSIGHT: ResourceType.Trait
    TRAIT_SCOPE_BINDING: ResourceType.Trait
    TRAIT_VENDOR: ResourceType.Trait
    TRAIT_VENDOR_AGREEMENT: ResourceType.Trait
    TRAIT_LICENSE_PROFILE: ResourceType.Trait
    TRAIT_AGENT: ResourceType.Trait
    TRAIT_MANAGED_DEVICE: ResourceType.Trait
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

class ResourceTypesServiceListResourceTypesRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "annotations", "active_sync_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    parent: Resource
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    active_sync_id: str
    def __init__(self, parent: _Optional[_Union[Resource, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., active_sync_id: _Optional[str] = ...) -> None: ...

class ResourceTypesServiceListResourceTypesResponse(_message.Message):
    __slots__ = ("list", "next_page_token", "annotations")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[ResourceType]
    next_page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, list: _Optional[_Iterable[_Union[ResourceType, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class CreateResourceRequest(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ...) -> None: ...

class CreateResourceResponse(_message.Message):
    __slots__ = ("created", "annotations")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    created: Resource
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, created: _Optional[_Union[Resource, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class DeleteResourceRequest(_message.Message):
    __slots__ = ("resource_id", "parent_resource_id")
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_id: ResourceId
    parent_resource_id: ResourceId
    def __init__(self, resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., parent_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ...) -> None: ...

class DeleteResourceResponse(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class DeleteResourceV2Request(_message.Message):
    __slots__ = ("resource_id", "parent_resource_id")
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_id: ResourceId
    parent_resource_id: ResourceId
    def __init__(self, resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., parent_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ...) -> None: ...

class DeleteResourceV2Response(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class RotateCredentialRequest(_message.Message):
    __slots__ = ("resource_id", "credential_options", "encryption_configs")
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONFIGS_FIELD_NUMBER: _ClassVar[int]
    resource_id: ResourceId
    credential_options: CredentialOptions
    encryption_configs: _containers.RepeatedCompositeFieldContainer[EncryptionConfig]
    def __init__(self, resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., credential_options: _Optional[_Union[CredentialOptions, _Mapping]] = ..., encryption_configs: _Optional[_Iterable[_Union[EncryptionConfig, _Mapping]]] = ...) -> None: ...

class RotateCredentialResponse(_message.Message):
    __slots__ = ("encrypted_data", "resource_id", "annotations")
    ENCRYPTED_DATA_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    encrypted_data: _containers.RepeatedCompositeFieldContainer[EncryptedData]
    resource_id: ResourceId
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, encrypted_data: _Optional[_Iterable[_Union[EncryptedData, _Mapping]]] = ..., resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class IssueCredentialRequest(_message.Message):
    __slots__ = ("identity_id", "credential_options", "encryption_configs", "request_id", "expires_at")
    IDENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONFIGS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    identity_id: ResourceId
    credential_options: CredentialIssueOptions
    encryption_configs: _containers.RepeatedCompositeFieldContainer[EncryptionConfig]
    request_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, identity_id: _Optional[_Union[ResourceId, _Mapping]] = ..., credential_options: _Optional[_Union[CredentialIssueOptions, _Mapping]] = ..., encryption_configs: _Optional[_Iterable[_Union[EncryptionConfig, _Mapping]]] = ..., request_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IssueCredentialResponse(_message.Message):
    __slots__ = ("secret", "encrypted_data", "annotations", "resource_mode", "request_id")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_DATA_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_MODE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    secret: Resource
    encrypted_data: _containers.RepeatedCompositeFieldContainer[EncryptedData]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    resource_mode: CredentialResourceMode
    request_id: str
    def __init__(self, secret: _Optional[_Union[Resource, _Mapping]] = ..., encrypted_data: _Optional[_Iterable[_Union[EncryptedData, _Mapping]]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., resource_mode: _Optional[_Union[CredentialResourceMode, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class AccountInfo(_message.Message):
    __slots__ = ("emails", "login", "login_aliases", "profile")
    class Email(_message.Message):
        __slots__ = ("address", "is_primary")
        ADDRESS_FIELD_NUMBER: _ClassVar[int]
        IS_PRIMARY_FIELD_NUMBER: _ClassVar[int]
        address: str
        is_primary: bool
        def __init__(self, address: _Optional[str] = ..., is_primary: bool = ...) -> None: ...
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    LOGIN_ALIASES_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    emails: _containers.RepeatedCompositeFieldContainer[AccountInfo.Email]
    login: str
    login_aliases: _containers.RepeatedScalarFieldContainer[str]
    profile: _struct_pb2.Struct
    def __init__(self, emails: _Optional[_Iterable[_Union[AccountInfo.Email, _Mapping]]] = ..., login: _Optional[str] = ..., login_aliases: _Optional[_Iterable[str]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class KeyGenerationProfile(_message.Message):
    __slots__ = ("kty", "rsa_modulus_bits", "crv")
    KTY_FIELD_NUMBER: _ClassVar[int]
    RSA_MODULUS_BITS_FIELD_NUMBER: _ClassVar[int]
    CRV_FIELD_NUMBER: _ClassVar[int]
    kty: str
    rsa_modulus_bits: int
    crv: str
    def __init__(self, kty: _Optional[str] = ..., rsa_modulus_bits: _Optional[int] = ..., crv: _Optional[str] = ...) -> None: ...

class CredentialIssueOptions(_message.Message):
    __slots__ = ("api_key", "keypair", "token", "client_secret")
    class ApiKey(_message.Message):
        __slots__ = ("scopes",)
        SCOPES_FIELD_NUMBER: _ClassVar[int]
        scopes: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, scopes: _Optional[_Iterable[str]] = ...) -> None: ...
    class Keypair(_message.Message):
        __slots__ = ("profile",)
        PROFILE_FIELD_NUMBER: _ClassVar[int]
        profile: KeyGenerationProfile
        def __init__(self, profile: _Optional[_Union[KeyGenerationProfile, _Mapping]] = ...) -> None: ...
    class Token(_message.Message):
        __slots__ = ("scopes", "audiences")
        SCOPES_FIELD_NUMBER: _ClassVar[int]
        AUDIENCES_FIELD_NUMBER: _ClassVar[int]
        scopes: _containers.RepeatedScalarFieldContainer[str]
        audiences: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, scopes: _Optional[_Iterable[str]] = ..., audiences: _Optional[_Iterable[str]] = ...) -> None: ...
    class ClientSecret(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEYPAIR_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    api_key: CredentialIssueOptions.ApiKey
    keypair: CredentialIssueOptions.Keypair
    token: CredentialIssueOptions.Token
    client_secret: CredentialIssueOptions.ClientSecret
    def __init__(self, api_key: _Optional[_Union[CredentialIssueOptions.ApiKey, _Mapping]] = ..., keypair: _Optional[_Union[CredentialIssueOptions.Keypair, _Mapping]] = ..., token: _Optional[_Union[CredentialIssueOptions.Token, _Mapping]] = ..., client_secret: _Optional[_Union[CredentialIssueOptions.ClientSecret, _Mapping]] = ...) -> None: ...

class CredentialOptions(_message.Message):
    __slots__ = ("random_password", "no_password", "sso", "encrypted_password", "force_change_at_next_login")
    class RandomPassword(_message.Message):
        __slots__ = ("length", "constraints")
        LENGTH_FIELD_NUMBER: _ClassVar[int]
        CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
        length: int
        constraints: _containers.RepeatedCompositeFieldContainer[PasswordConstraint]
        def __init__(self, length: _Optional[int] = ..., constraints: _Optional[_Iterable[_Union[PasswordConstraint, _Mapping]]] = ...) -> None: ...
    class NoPassword(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class SSO(_message.Message):
        __slots__ = ("sso_provider",)
        SSO_PROVIDER_FIELD_NUMBER: _ClassVar[int]
        sso_provider: str
        def __init__(self, sso_provider: _Optional[str] = ...) -> None: ...
    class EncryptedPassword(_message.Message):
        __slots__ = ("encrypted_passwords",)
        ENCRYPTED_PASSWORDS_FIELD_NUMBER: _ClassVar[int]
        encrypted_passwords: _containers.RepeatedCompositeFieldContainer[EncryptedData]
        def __init__(self, encrypted_passwords: _Optional[_Iterable[_Union[EncryptedData, _Mapping]]] = ...) -> None: ...
    RANDOM_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NO_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SSO_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    FORCE_CHANGE_AT_NEXT_LOGIN_FIELD_NUMBER: _ClassVar[int]
    random_password: CredentialOptions.RandomPassword
    no_password: CredentialOptions.NoPassword
    sso: CredentialOptions.SSO
    encrypted_password: CredentialOptions.EncryptedPassword
    force_change_at_next_login: bool
    def __init__(self, random_password: _Optional[_Union[CredentialOptions.RandomPassword, _Mapping]] = ..., no_password: _Optional[_Union[CredentialOptions.NoPassword, _Mapping]] = ..., sso: _Optional[_Union[CredentialOptions.SSO, _Mapping]] = ..., encrypted_password: _Optional[_Union[CredentialOptions.EncryptedPassword, _Mapping]] = ..., force_change_at_next_login: bool = ...) -> None: ...

class LocalCredentialOptions(_message.Message):
    __slots__ = ("random_password", "no_password", "sso", "plaintext_password", "force_change_at_next_login")
    class RandomPassword(_message.Message):
        __slots__ = ("length", "constraints")
        LENGTH_FIELD_NUMBER: _ClassVar[int]
        CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
        length: int
        constraints: _containers.RepeatedCompositeFieldContainer[PasswordConstraint]
        def __init__(self, length: _Optional[int] = ..., constraints: _Optional[_Iterable[_Union[PasswordConstraint, _Mapping]]] = ...) -> None: ...
    class NoPassword(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class SSO(_message.Message):
        __slots__ = ("sso_provider",)
        SSO_PROVIDER_FIELD_NUMBER: _ClassVar[int]
        sso_provider: str
        def __init__(self, sso_provider: _Optional[str] = ...) -> None: ...
    class PlaintextPassword(_message.Message):
        __slots__ = ("plaintext_password",)
        PLAINTEXT_PASSWORD_FIELD_NUMBER: _ClassVar[int]
        plaintext_password: str
        def __init__(self, plaintext_password: _Optional[str] = ...) -> None: ...
    RANDOM_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NO_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SSO_FIELD_NUMBER: _ClassVar[int]
    PLAINTEXT_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    FORCE_CHANGE_AT_NEXT_LOGIN_FIELD_NUMBER: _ClassVar[int]
    random_password: LocalCredentialOptions.RandomPassword
    no_password: LocalCredentialOptions.NoPassword
    sso: LocalCredentialOptions.SSO
    plaintext_password: LocalCredentialOptions.PlaintextPassword
    force_change_at_next_login: bool
    def __init__(self, random_password: _Optional[_Union[LocalCredentialOptions.RandomPassword, _Mapping]] = ..., no_password: _Optional[_Union[LocalCredentialOptions.NoPassword, _Mapping]] = ..., sso: _Optional[_Union[LocalCredentialOptions.SSO, _Mapping]] = ..., plaintext_password: _Optional[_Union[LocalCredentialOptions.PlaintextPassword, _Mapping]] = ..., force_change_at_next_login: bool = ...) -> None: ...

class PasswordConstraint(_message.Message):
    __slots__ = ("char_set", "min_count")
    CHAR_SET_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    char_set: str
    min_count: int
    def __init__(self, char_set: _Optional[str] = ..., min_count: _Optional[int] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("account_info", "credential_options", "encryption_configs", "resource_type_id")
    ACCOUNT_INFO_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONFIGS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    account_info: AccountInfo
    credential_options: CredentialOptions
    encryption_configs: _containers.RepeatedCompositeFieldContainer[EncryptionConfig]
    resource_type_id: str
    def __init__(self, account_info: _Optional[_Union[AccountInfo, _Mapping]] = ..., credential_options: _Optional[_Union[CredentialOptions, _Mapping]] = ..., encryption_configs: _Optional[_Iterable[_Union[EncryptionConfig, _Mapping]]] = ..., resource_type_id: _Optional[str] = ...) -> None: ...

class CreateAccountResponse(_message.Message):
    __slots__ = ("success", "action_required", "already_exists", "in_progress", "encrypted_data", "annotations")
    class SuccessResult(_message.Message):
        __slots__ = ("resource", "is_create_account_result", "invitation_expires_at")
        RESOURCE_FIELD_NUMBER: _ClassVar[int]
        IS_CREATE_ACCOUNT_RESULT_FIELD_NUMBER: _ClassVar[int]
        INVITATION_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
        resource: Resource
        is_create_account_result: bool
        invitation_expires_at: _timestamp_pb2.Timestamp
        def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., is_create_account_result: bool = ..., invitation_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    class ActionRequiredResult(_message.Message):
        __slots__ = ("resource", "message", "is_create_account_result")
        RESOURCE_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        IS_CREATE_ACCOUNT_RESULT_FIELD_NUMBER: _ClassVar[int]
        resource: Resource
        message: str
        is_create_account_result: bool
        def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., message: _Optional[str] = ..., is_create_account_result: bool = ...) -> None: ...
    class AlreadyExistsResult(_message.Message):
        __slots__ = ("resource", "is_create_account_result")
        RESOURCE_FIELD_NUMBER: _ClassVar[int]
        IS_CREATE_ACCOUNT_RESULT_FIELD_NUMBER: _ClassVar[int]
        resource: Resource
        is_create_account_result: bool
        def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., is_create_account_result: bool = ...) -> None: ...
    class InProgressResult(_message.Message):
        __slots__ = ("resource", "is_create_account_result")
        RESOURCE_FIELD_NUMBER: _ClassVar[int]
        IS_CREATE_ACCOUNT_RESULT_FIELD_NUMBER: _ClassVar[int]
        resource: Resource
        is_create_account_result: bool
        def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., is_create_account_result: bool = ...) -> None: ...
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ACTION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_EXISTS_FIELD_NUMBER: _ClassVar[int]
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_DATA_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    success: CreateAccountResponse.SuccessResult
    action_required: CreateAccountResponse.ActionRequiredResult
    already_exists: CreateAccountResponse.AlreadyExistsResult
    in_progress: CreateAccountResponse.InProgressResult
    encrypted_data: _containers.RepeatedCompositeFieldContainer[EncryptedData]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, success: _Optional[_Union[CreateAccountResponse.SuccessResult, _Mapping]] = ..., action_required: _Optional[_Union[CreateAccountResponse.ActionRequiredResult, _Mapping]] = ..., already_exists: _Optional[_Union[CreateAccountResponse.AlreadyExistsResult, _Mapping]] = ..., in_progress: _Optional[_Union[CreateAccountResponse.InProgressResult, _Mapping]] = ..., encrypted_data: _Optional[_Iterable[_Union[EncryptedData, _Mapping]]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class EncryptedData(_message.Message):
    __slots__ = ("provider", "key_id", "name", "description", "schema", "encrypted_bytes", "key_ids")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_BYTES_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    key_id: str
    name: str
    description: str
    schema: str
    encrypted_bytes: bytes
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, provider: _Optional[str] = ..., key_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., schema: _Optional[str] = ..., encrypted_bytes: _Optional[bytes] = ..., key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PlaintextData(_message.Message):
    __slots__ = ("name", "description", "schema", "bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    schema: str
    bytes: bytes
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., schema: _Optional[str] = ..., bytes: _Optional[bytes] = ...) -> None: ...

class EncryptionConfig(_message.Message):
    __slots__ = ("principal", "provider", "key_id", "jwk_public_key_config", "age_recipient_config")
    class JWKPublicKeyConfig(_message.Message):
        __slots__ = ("pub_key",)
        PUB_KEY_FIELD_NUMBER: _ClassVar[int]
        pub_key: bytes
        def __init__(self, pub_key: _Optional[bytes] = ...) -> None: ...
    class AgeRecipientConfig(_message.Message):
        __slots__ = ("recipient",)
        RECIPIENT_FIELD_NUMBER: _ClassVar[int]
        recipient: str
        def __init__(self, recipient: _Optional[str] = ...) -> None: ...
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    JWK_PUBLIC_KEY_CONFIG_FIELD_NUMBER: _ClassVar[int]
    AGE_RECIPIENT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    principal: Resource
    provider: str
    key_id: str
    jwk_public_key_config: EncryptionConfig.JWKPublicKeyConfig
    age_recipient_config: EncryptionConfig.AgeRecipientConfig
    def __init__(self, principal: _Optional[_Union[Resource, _Mapping]] = ..., provider: _Optional[str] = ..., key_id: _Optional[str] = ..., jwk_public_key_config: _Optional[_Union[EncryptionConfig.JWKPublicKeyConfig, _Mapping]] = ..., age_recipient_config: _Optional[_Union[EncryptionConfig.AgeRecipientConfig, _Mapping]] = ...) -> None: ...

class ResourceId(_message.Message):
    __slots__ = ("resource_type", "resource", "baton_resource")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    BATON_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource_type: str
    resource: str
    baton_resource: bool
    def __init__(self, resource_type: _Optional[str] = ..., resource: _Optional[str] = ..., baton_resource: bool = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("id", "parent_resource_id", "display_name", "annotations", "description", "baton_resource", "external_id", "creation_source", "profile", "icon", "status", "created_at")
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
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
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
    external_id: ExternalId
    creation_source: Resource.CreationSource
    profile: _struct_pb2.Struct
    icon: _asset_pb2.AssetRef
    status: Status
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[_Union[ResourceId, _Mapping]] = ..., parent_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., display_name: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., description: _Optional[str] = ..., baton_resource: bool = ..., external_id: _Optional[_Union[ExternalId, _Mapping]] = ..., creation_source: _Optional[_Union[Resource.CreationSource, str]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., icon: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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

class ResourcesServiceListResourcesRequest(_message.Message):
    __slots__ = ("resource_type_id", "parent_resource_id", "page_size", "page_token", "annotations", "active_sync_id", "trait")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    parent_resource_id: ResourceId
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    active_sync_id: str
    trait: ResourceType.Trait
    def __init__(self, resource_type_id: _Optional[str] = ..., parent_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., active_sync_id: _Optional[str] = ..., trait: _Optional[_Union[ResourceType.Trait, str]] = ...) -> None: ...

class ResourcesServiceListResourcesResponse(_message.Message):
    __slots__ = ("list", "next_page_token", "annotations")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[Resource]
    next_page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, list: _Optional[_Iterable[_Union[Resource, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class ResourceGetterServiceGetResourceRequest(_message.Message):
    __slots__ = ("resource_id", "parent_resource_id", "annotations", "active_sync_id")
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    resource_id: ResourceId
    parent_resource_id: ResourceId
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    active_sync_id: str
    def __init__(self, resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., parent_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., active_sync_id: _Optional[str] = ...) -> None: ...

class ResourceGetterServiceGetResourceResponse(_message.Message):
    __slots__ = ("resource", "annotations")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class ExternalId(_message.Message):
    __slots__ = ("id", "link", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    link: str
    description: str
    def __init__(self, id: _Optional[str] = ..., link: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...
