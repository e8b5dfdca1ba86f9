"""`--sync-emails` when one person's EMAIL devices repeat an address: the `.c1z` lists it once.

xMatters lets a person keep the same address on two devices (a work and an "escalation" device),
and `zoë@exämple.net` on one and its IDNA form on another are one address for C1, as are
`ops@example.com` and `ops@EXAMPLE.COM` (a domain is case-insensitive; a local part may not be, so
`Ops@example.com` stays another address). Each used to be a separate entry of the user's
`UserTrait.emails`; the warehouse still keeps one row per device.
"""

from __future__ import annotations

import copy

from orchestration.cli import main
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import open_c1z
from simulator import OrgSpec, XmattersSimulator, build_org
from tests.orchestration.test_sync_cli import published, sync_args

SPEC = OrgSpec(seed=5, people=4, groups=2, members_per_group=3, hidden_people=0, large_groups=0)


def test_an_address_on_two_devices_of_one_person_is_one_email_of_the_user(data_home, tmp_path):
    org = build_org(SPEC)
    owner = org.people[0]
    template = org.devices_of_type("EMAIL")[0]

    def device(number: int, address: str) -> dict:
        ref = {"id": owner["id"], "targetName": owner["targetName"], "recipientType": "PERSON"}
        return {**template, "id": f"dev-{number}", "sequence": number, "owner": ref, "emailAddress": address}

    addresses = [
        *("ops@example.com", "zoë@exämple.net", "ops@example.com", "zoë@xn--exmple-cua.net"),
        *("ops@EXAMPLE.COM", "Ops@example.com"),
    ]
    served = copy.copy(org)
    served.__dict__["devices"] = [device(n, a) for n, a in enumerate(addresses, start=1)]
    sync_file = tmp_path / "sync.c1z"
    with XmattersSimulator(served) as sim:
        assert main(sync_args(sim, sync_file, "--sync-emails", "--log-level", "warning")) == 0

    with open_c1z(sync_file) as reader:
        user = next(u for u in reader.resources("user") if u.id.resource == owner["id"])
    trait = pb.UserTrait()
    assert user.annotations[0].Unpack(trait)
    assert [(e.address, e.is_primary) for e in trait.emails] == [
        ("ops@example.com", True),
        ("Ops@example.com", False),
        ("zoë@xn--exmple-cua.net", False),
    ]
    query = f"SELECT address FROM c1.user_emails WHERE user_id = '{owner['id']}' ORDER BY sequence"
    assert [row[0] for row in published(data_home, query)] == addresses  # one row per device, as sent
