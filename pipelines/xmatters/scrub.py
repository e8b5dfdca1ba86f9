"""Make server text safe to print, log or store: no secrets, no terminal control sequences.

A hostile or broken server can echo what it received (a 500 page quoting the Authorization header,
a message holding the password) and can send bytes a terminal obeys (ESC sequences that set the
window title, clear the screen or move the cursor). Every message built from server text passes
through `scrub`: `XmattersError` applies it to every error it carries, and the warnings that quote
the server apply it before logging. Data (the rows) is never scrubbed: it keeps what xMatters holds.

The secrets are registered by each client of this process (`register_credentials`): errors are
raised deep in code that never sees the config (paging, the member-call process), and the one place
all of them pass is the error's constructor. A registry of the process's own credentials is what
lets that constructor redact them.

A secret shorter than `WHOLE_TOKEN_BELOW` characters is redacted only where it stands as a whole
token (not inside a longer word): replacing every "p" of a one-letter password turned "page" and
"http://" into "[redacted]age" and "htt[redacted]://", which garbled every message and, by where it
cut, told a reader the password anyway. Longer secrets, and the Basic token and base64 forms (never
short), are redacted wherever they appear.
"""

from __future__ import annotations

import base64
import re
import threading
from urllib.parse import quote

from pipelines.terminal_text import printable

REDACTED = "[redacted]"
WHOLE_TOKEN_BELOW = 8

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def credential_forms(username: str, password: str) -> set[str]:
    """The forms a password travels or may be echoed in: itself, the Basic token, base64, URL-encoded."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    forms = {password, token, base64.b64encode(password.encode()).decode("ascii")}
    forms |= {quote(form, safe="") for form in tuple(forms)}
    return {form for form in forms if form}


def register_credentials(username: str, password: str) -> None:
    """Redact this password (in all its forms) from every later `scrub` of this process."""
    global _pattern
    forms = credential_forms(username, password)
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        _pattern = secrets_pattern(_secrets)


def secrets_pattern(secrets: set[str]) -> re.Pattern[str]:
    """One pattern for all `secrets`; short ones match only as whole tokens (see the module doc)."""
    # longest first: a form that contains another is redacted whole
    ordered = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join(_secret_regex(form) for form in ordered))


def _secret_regex(secret: str) -> str:
    if len(secret) >= WHOLE_TOKEN_BELOW:
        return re.escape(secret)
    return rf"(?<!\w){re.escape(secret)}(?!\w)"


def forget_credentials() -> None:
    """Forget every registered credential (tests: each redacts only its own)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def scrub(text: str) -> str:
    """`text` with the registered secrets replaced by `[redacted]` and control characters escaped."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return printable(text)
