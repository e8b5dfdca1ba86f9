"""User email addresses as C1's `UserTrait.Email.address` rule (`email: true`) accepts them.

Why: protoc-gen-validate's email rule (baton-sdk `annotation_trait.pb.validate.go`) parses the
address with Go's `net/mail`, then requires at most 254 bytes, a local part of at most 64 bytes
and an ASCII host name: labels of 1-63 letters, digits or hyphens, not starting or ending with a
hyphen. xMatters holds addresses such as `zoë@exämple.net` (internationalised domains), which that
rule refuses. `c1_email` gives the same address with its domain in IDNA ASCII form
(`zoë@xn--exmple-cua.net`), the form mail systems use on the wire; an address the rule still
refuses is left out of the `.c1z` (the warehouse keeps every address) and counted in a warning.

The domain is given in lower case: domain names are case-insensitive (RFC 5321 2.4), so
`p@EXAMPLE.COM` and `p@example.com` are one address, listed once in a user's emails (the IDNA form
is lower case already). The local part is kept as sent: RFC 5321 lets a mail system treat it as
case-sensitive, so `P@example.com` stays another address.

The local part is accepted as Go's `net/mail` reads a dot-atom: RFC 5322 atext and any non-ASCII
character, dots only between characters. Quoted local parts (`"a b"@x.org`), which `net/mail` also
reads, are refused here: rare, and not worth a second parser.
"""

from __future__ import annotations

import re

_MAX_ADDRESS_BYTES = 254
_MAX_LOCAL_BYTES = 64
_MAX_HOST_BYTES = 253
_LOCAL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x80-\U0010ffff]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x80-\U0010ffff]+)*"
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def c1_email(address: str) -> str | None:
    """The address in a form C1's email rule accepts (IDNA domain), or None when there is none."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or len(local.encode()) > _MAX_LOCAL_BYTES:
        return None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if len(domain) > _MAX_HOST_BYTES:
        return None
    domain = domain.lower()  # one form of a case-insensitive name, as IDNA's (which lowercases)
    labels = domain.split(".")  # net/mail refuses a leading, trailing or double dot
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    result = f"{local}@{domain}"
    return result if len(result.encode()) <= _MAX_ADDRESS_BYTES else None
