"""Parse C1's client id and client secret exactly as baton-sdk does, with errors that never show the secret.

Client id `<client-name>@<token-host>/<rest>` (`pkg/ugrpc/c1_credential_provider.go:47-62`); client
secret `<a>:<b>:v1:<base64url JWK>` holding a private OKP/Ed25519 key (`pkg/crypto/client_secret.go`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class CredentialError(Exception):
    """A malformed client id or secret; the message names the setting, never the secret's content."""


@dataclass(frozen=True)
class ClientId:
    raw: str
    client_name: str
    token_host: str  # host[:port] from the id; the JWT audience is this without the port


@dataclass(frozen=True)
class ClientCredentials:
    client_id: ClientId
    key: Ed25519PrivateKey = field(repr=False)


def parse_client_id(raw: str) -> ClientId:
    name, at, rest = raw.partition("@")
    if not at:
        raise CredentialError("--client-id/BATON_CLIENT_ID is malformed: expected <name>@<host>/<suffix>")
    host, slash, _ = rest.partition("/")
    if not slash or not host:
        raise CredentialError("--client-id/BATON_CLIENT_ID is malformed: expected <name>@<host>/<suffix>")
    return ClientId(raw=raw, client_name=name, token_host=host)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_client_secret(raw: str) -> Ed25519PrivateKey:
    bad = "--client-secret/BATON_CLIENT_SECRET is malformed"
    parts = raw.split(":")
    if len(parts) != 4:
        raise CredentialError(f"{bad}: expected 4 ':'-separated fields, got {len(parts)}")
    if parts[2] != "v1":
        raise CredentialError(f"{bad}: unsupported version (the third field must be v1)")
    try:
        jwk = json.loads(b64url_decode(parts[3]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CredentialError(f"{bad}: the key is not base64url-encoded JSON") from None
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise CredentialError(f"{bad}: the key is not an Ed25519 (OKP) key")
    if not isinstance(jwk.get("d"), str):
        raise CredentialError(f"{bad}: the key is a public key, a private key is required")
    try:
        seed = b64url_decode(jwk["d"])
        if len(seed) != 32:
            raise ValueError
        return Ed25519PrivateKey.from_private_bytes(seed)
    except (binascii.Error, ValueError):
        raise CredentialError(f"{bad}: the private key is not a 32-byte Ed25519 seed") from None


def parse_credentials(client_id: str, client_secret: str) -> ClientCredentials:
    if not client_id:
        raise CredentialError(
            "--client-id/BATON_CLIENT_ID is required with --client-secret/BATON_CLIENT_SECRET"
        )
    if not client_secret:
        raise CredentialError(
            "--client-secret/BATON_CLIENT_SECRET is required with --client-id/BATON_CLIENT_ID"
        )
    return ClientCredentials(parse_client_id(client_id), parse_client_secret(client_secret))
