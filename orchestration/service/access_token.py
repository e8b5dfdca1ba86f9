"""The C1 access token: a signed client assertion (JWT, EdDSA) exchanged at `/auth/v1/token`, cached.

As baton-sdk's `c1_credential_provider.go` (see `../shared/docs/c1-service-mode.md` section 4): claims
iss = sub = client id, aud = token host without port, iat, nbf = now - 2 min, exp = now + 2 min;
header alg EdDSA + a random nonce; reused until 10 s before it expires.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from orchestration.service.credentials import ClientCredentials

logger = logging.getLogger("baton_xmatters.service")

TOKEN_PATH = "/auth/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
USER_AGENT = "baton-c1-credential-provider"
CLOCK_SKEW_S = 120
REFRESH_BEFORE_S = 10
TIMEOUT_S = 30.0
WAIT_STEP_S = 0.1  # how often a caller waiting for the token looks at its abort condition
NO_ENDPOINT_STATUSES = (404, 405)  # another server than a C1 tenant answered, not a refusal


class TokenError(Exception):
    """The token could not be had. `refused`: the endpoint answered and said no (fatal at start-up).
    `certificate`: its TLS certificate failed verification (a set-up error at start-up)."""

    def __init__(self, message: str, *, refused: bool, certificate: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        self.certificate = certificate


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def audience(token_host: str) -> str:
    """The host of the client id without any port (never the BATON_C1_API_HOST override)."""
    if token_host.startswith("["):
        return token_host[1 : token_host.index("]")]
    return token_host.rsplit(":", 1)[0] if token_host.count(":") == 1 else token_host


def client_assertion(credentials: ClientCredentials, now: float | None = None) -> str:
    now = int(time.time() if now is None else now)
    client_id = credentials.client_id.raw
    # key order as go-jose writes them: header fields sorted, claims in struct order
    header = {"alg": "EdDSA", "nonce": secrets.token_hex(16)}
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience(credentials.client_id.token_host),
        "exp": now + CLOCK_SKEW_S,
        "nbf": now - CLOCK_SKEW_S,
        "iat": now,
    }
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = credentials.key.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url(signature)


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    token_type: str
    expires_at: float  # time.monotonic()

    @property
    def authorization(self) -> str:
        kind = "Bearer" if self.token_type.lower() in ("", "bearer") else self.token_type
        return f"{kind} {self.value}"


def certificate_problem(host: str, problem: str) -> str:
    """One line for a certificate that failed verification: the host, the problem, where to look."""
    return (
        f"TLS certificate of {host} failed verification: {problem.rstrip('.')}; check BATON_C1_API_HOST "
        "(or the host in BATON_CLIENT_ID), and for a private CA, SSL_CERT_FILE"
    )


class TokenSource:
    """Thread-safe cache of the access token (heartbeats and polling share it).

    The request runs in a thread of its own and its callers wait for it while `abort()` is false:
    a stop (SIGTERM) must not wait out a token endpoint that hangs (TIMEOUT_S, 30 s, past
    `podman stop`'s 10 s), and urllib cannot be interrupted from outside. An abandoned request
    finishes or times out in its daemon thread; a later caller starts another.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        api_host: str,
        context: ssl.SSLContext,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._api_host = api_host
        self._context = context
        self._clock = clock
        self._token: Token | None = None
        self._pending: Future[Token] | None = None  # the request in flight, shared by its callers
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"https://{self._api_host}{TOKEN_PATH}"

    def authorization(self, abort: Callable[[], bool] = lambda: False) -> str:
        """The `authorization` value; TokenError (not refused) within WAIT_STEP_S of `abort()`."""
        with self._lock:
            if self._token is not None and self._clock() < self._token.expires_at - REFRESH_BEFORE_S:
                return self._token.authorization
            if self._pending is None:
                self._pending = Future()
                threading.Thread(
                    target=self._request, args=(self._pending,), name="c1-token", daemon=True
                ).start()
            pending = self._pending
        while True:
            try:
                return pending.result(timeout=WAIT_STEP_S).authorization
            except FutureTimeout:
                if abort():
                    raise TokenError(
                        f"token request to {self.url} abandoned (stopping, or the call's time is up)",
                        refused=False,
                    ) from None

    def _request(self, pending: Future[Token]) -> None:
        try:
            token = self._fetch()
        except BaseException as exc:  # handed to every caller waiting on it
            with self._lock:
                self._pending = None
            pending.set_exception(exc)
            return
        with self._lock:
            self._token, self._pending = token, None
        pending.set_result(token)

    def _fetch(self) -> Token:
        """POST the assertion; HTTPS_PROXY/NO_PROXY apply as for baton-sdk's HTTP client.

        A 4xx answer is a refusal (fatal at start-up, as every non-200 is in baton-sdk); a 5xx or
        429 answer, like a network error, is retried with the caller's backoff instead: a C1 outage
        should not end a self-hosted connector.
        """
        body = urllib.parse.urlencode(
            {
                "client_id": self._credentials.client_id.raw,
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(self._credentials),
            }
        ).encode("ascii")
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
        )
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self._context))
        try:
            with opener.open(request, timeout=TIMEOUT_S) as response:
                payload = response.read(1 << 20)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in NO_ENDPOINT_STATUSES:  # fatal as any 4xx, but the host is what is wrong
                raise TokenError(
                    f"{self.url} answered HTTP {exc.code}: no ConductorOne token endpoint there; "
                    "check BATON_C1_API_HOST (or the host in BATON_CLIENT_ID)",
                    refused=True,
                ) from None
            if 400 <= exc.code < 500 and exc.code != 429:
                raise TokenError(
                    f"{self.url} refused the client credentials (HTTP {exc.code}); check "
                    "BATON_CLIENT_ID/BATON_CLIENT_SECRET (rotate them in C1's connector settings)",
                    refused=True,
                ) from None
            raise TokenError(f"{self.url} answered HTTP {exc.code}", refused=False) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise TokenError(
                    certificate_problem(self._api_host, str(reason.verify_message or reason.reason)),
                    refused=False,
                    certificate=True,
                ) from None
            if isinstance(reason, ssl.SSLError):
                reason = f"TLS error: {reason.reason or reason}"
            raise TokenError(f"cannot reach {self.url}: {reason}", refused=False) from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise TokenError(f"cannot reach {self.url}: {exc}", refused=False) from None
        try:
            data = json.loads(payload)
            value = str(data["access_token"])
            expires_in = float(data.get("expires_in") or 0)
            token_type = str(data.get("token_type") or "")
        except (ValueError, KeyError, TypeError):
            raise TokenError(
                f"{self.url} answered HTTP 200 without a JSON access token", refused=True
            ) from None
        if not value:
            raise TokenError(f"{self.url} answered an empty access token", refused=True)
        logger.debug("C1 access token obtained, valid %.0f s", expires_in)
        return Token(value=value, token_type=token_type, expires_at=self._clock() + expires_in)
