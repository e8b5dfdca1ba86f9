"""Trusted roots for the token endpoint and gRPC: the system's, plus `SSL_CERT_FILE` when set.

Why: C1's SDK is Go, whose TLS on Linux reads `SSL_CERT_FILE` for its roots; self-hosted
deployments behind a TLS-inspecting proxy set it. Python's `ssl` and grpcio do not agree on roots
(grpcio ships its own bundle and ignores the variable), so both are built here from the same files.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

ENV_CERT_FILE = "SSL_CERT_FILE"


class TlsConfigError(Exception):
    pass


def extra_roots_file(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    value = env.get(ENV_CERT_FILE, "")
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise TlsConfigError(f"{ENV_CERT_FILE} {value!r} is not a readable file")
    return path


def http_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """System roots plus `SSL_CERT_FILE`; TLS 1.2 or later, as baton-sdk's HTTP client."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    extra = extra_roots_file(env)
    if extra is not None:
        try:
            context.load_verify_locations(cafile=str(extra))
        except ssl.SSLError as exc:
            raise TlsConfigError(
                f"{ENV_CERT_FILE} {str(extra)!r} holds no usable certificate: {exc}"
            ) from None
    return context


def grpc_root_certificates(env: Mapping[str, str] | None = None) -> bytes | None:
    """PEM roots for grpcio: the system bundle plus `SSL_CERT_FILE`; None leaves grpcio's default."""
    extra = extra_roots_file(env)
    if extra is None:
        return None
    system = ssl.get_default_verify_paths().openssl_cafile
    pem = b""
    if system and Path(system).is_file() and Path(system).resolve() != extra.resolve():
        pem = Path(system).read_bytes().rstrip(b"\n") + b"\n"
    return pem + extra.read_bytes()
