"""Email addresses as C1's `email: true` rule accepts them (pipelines/c1z/email.py)."""

from __future__ import annotations

import pytest

from pipelines.c1z.email import c1_email


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("zoe.a@example.com", "zoe.a@example.com"),
        (" zoe@example.com ", "zoe@example.com"),
        ("o'brien+oncall@sub.example.co.uk", "o'brien+oncall@sub.example.co.uk"),
        (
            "zoë@exämple.net",
            "zoë@xn--exmple-cua.net",
        ),  # net/mail reads UTF-8 local parts; hosts must be ASCII
        ("ops@ÄRZTE.de", "ops@xn--rzte-koa.de"),
        # the domain is case-insensitive (RFC 5321 2.4): one form, as the IDNA one; the local part
        # may be case-sensitive and is kept as sent
        ("Ops.Lead@EXAMPLE.Com", "Ops.Lead@example.com"),
    ],
)
def test_accepted_addresses(address, expected):
    assert c1_email(address) == expected
    assert c1_email(expected) == expected


@pytest.mark.parametrize(
    "address",
    [
        "zoë..ops@example.com",  # double dot
        ".ops@example.com",
        "ops.@example.com",
        "no-at-sign",
        "@example.com",
        "ops@",
        "ops@example..com",
        "ops@example.com.",
        "ops@-example.com",
        "ops@example-.com",
        "ops@exa_mple.com",
        '"quoted local"@example.com',
        "a b@example.com",
        "x" * 65 + "@example.com",  # local part over 64 bytes
        "ops@" + "a" * 64 + ".com",  # host label over 63
        "ops@" + ".".join(["a" * 60] * 5),  # host over 253
    ],
)
def test_refused_addresses(address):
    assert c1_email(address) is None
