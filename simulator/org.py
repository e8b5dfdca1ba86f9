"""A deterministic synthetic xMatters organisation: the simulator's data and the tests' ground truth.

Everything derives from `OrgSpec.seed`, so a test can assert exact outputs and two processes build
byte-identical data (nothing depends on `hash()` or set order of strings).

Memory matters (benchmarks build 100,000 people and ~1,000,000 memberships), so memberships are stored
compactly: each group holds an `array` of integer member codes, and member dicts/JSON are produced on
demand. `Org.members` is a read-only mapping view that materialises a group's member items when asked.
Devices are derived lazily from a hash of (seed, person, slot) for the same reason.

Treat every dict returned here as read-only: the server serialises the same objects.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from simulator.hostile_text import BAD_EMAIL, apply_hostile_text

API_PREFIX = "/api/xm/1"

# Member codes: (index << 2) | tag. DEVICE index = person_index * _SLOTS + slot.
_PERSON, _GROUP, _DEVICE, _DYNAMIC_TEAM = 0, 1, 2, 3
_TAG_NAMES = ("PERSON", "GROUP", "DEVICE", "DYNAMIC_TEAM")
_SLOTS = 8
_EMAIL_SLOTS = (0, 1, 2)  # slots 0..2 are EMAIL devices, 4..6 are phones
_PHONE_SLOT_BASE = 4

_EMAIL_DEVICE_NAMES = ("Work Email", "Home Email", "Personal Email")
_PHONE_DEVICES = (("VOICE", "Work Phone"), ("SMS", "Mobile SMS"), ("VOICE", "Home Phone"))
_PRIORITIES = ("LOW", "MEDIUM", "HIGH")

_FIRST_NAMES = (
    "Ana",
    "Zoë",
    "Łukasz",
    "Søren",
    "José",
    "Aoife",
    "Nguyễn",
    "Мария",
    "李",
    "Fatima",
    "Jean-Luc",
    "Ólafur",
    "Siobhán",
    "Chloé",
    "Dmitri",
    "Ayşe",
    "Björn",
    "Renée",
    "محمد",
    "Kwame",
    "Priya",
    "Hiroshi",
    "Élodie",
    "Tom",
    "Sarah",
    "Michael",
    "Emma",
    "Raj",
    "Olga",
    "Pedro",
)
_LAST_NAMES = (
    "Smith",
    "Müller",
    "García Márquez",
    "O'Brien",
    "Nakamura",
    "van der Berg",
    "Ødegaard",
    "Kowalski",
    "Ünal",
    "Dubois",
    "Çelik",
    "Θεοδωρίδης",
    "Nguyen",
    "Hernández",
    "Smith-Jones",
    "王",
    "Løvås",
    "Johnson",
    "Patel",
    "Rossi",
    "Kim",
    "Silva",
    "Novák",
    "Andersson",
)
_SERVICE_WORDS = ("monitoring", "backup", "integration", "nagios", "servicenow", "jira", "pagerbridge")
_LANGUAGES = ("en", "en", "en", "fr", "de", "ja", "es", "pt_BR")
_TIMEZONES = (
    "US/Eastern",
    "US/Pacific",
    "US/Central",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Zurich",
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "UTC",
)
_SKILLS = ("Linux", "Networking", "Oracle DBA", "Kubernetes", "Français", "日本語", "Windows/AD", "SAP")
_SITES = ("Default Site", "Zürich HQ", "東京オフィス", "São Paulo / Branch", "Remote")
_GROUP_NAMES = (  # the names that need URL or JSON escaping come first, so small orgs have them too
    "Ops / Database On-Call",
    "Équipe Réseau",
    "100% Uptime?",
    "Ärzte #Notfall",
    'The "A" Team',
    "Legacy\\Mainframe",
    "Ops+Dev",
    "東京 サポート",
    "🚀 Launch Crew",
    "Service Desk L1/L2",
    "Network Operations",
    "Security Incident Response",
    "Finance & Payroll",
    "Zürich Datacenter",
    "São Paulo NOC",
    "Müller's Team",
    "Customer Success (EMEA)",
    "Платформа",
    "Database On-Call",
    "Kubernetes Platform",
    "Payments API",
    "Facilities",
    "Executive Escalation",
    "Data Warehouse",
)
_DYNAMIC_TEAM_NAMES = (
    "Dynamic: On-site Engineers",
    "Dynamic: Zürich Managers",
    "Dynamic: 日本語 Speakers",
    "Dynamic: Network / Security",
)
_GROUP_TYPE_WEIGHTS = (("ON_CALL", 0.5), ("BROADCAST", 0.4), ("DYNAMIC", 0.1))

_EPOCH_2015 = 1420070400  # 2015-01-01T00:00:00Z
_EPOCH_2024 = 1704067200


@dataclass(frozen=True)
class OrgSpec:
    """Scale and variety knobs of the synthetic organisation.

    `people` are the persons `/people` returns; `hidden_people` are extra persons who appear only as
    group members (the API account's permission scope). Regular groups get on average
    `members_per_group` member items (between half and one and a half times it); the first
    `large_groups` groups are BROADCAST groups of exactly `large_group_size` PERSON members, filled
    from the visible people first, then the hidden ones, then further hidden people created to make
    up the size (so a small org can still have a group that needs several member pages).
    The `*_share` knobs are fractions of regular groups' member items of that recipient type.
    Every count may be 0: with `members_per_group=0` regular groups have no members but the hidden
    people (each is put in one of them), as in a new or trial tenant.
    """

    seed: int = 7
    people: int = 3000  # more than `large_group_size`: by default only `hidden_people` are hidden
    groups: int = 120
    members_per_group: int = 12
    inactive_share: float = 0.15
    hidden_people: int = 5
    large_groups: int = 1
    large_group_size: int = 2500
    nested_group_share: float = 0.03
    device_member_share: float = 0.03
    dynamic_team_share: float = 0.02
    nameless_share: float = 0.05
    no_web_login_share: float = 0.10
    inactive_group_share: float = 0.10
    empty_group_share: float = 0.03
    sites: int = 4
    # hostile but legal text in a few people and groups (simulator/hostile_text.py): 1,000-5,000-byte
    # names in multi-byte scripts, blank names, RTL and control characters, 10 KB descriptions
    hostile_text: bool = False

    def __post_init__(self) -> None:
        for name in (
            "people",
            "groups",
            "members_per_group",
            "hidden_people",
            "large_groups",
            "large_group_size",
            "sites",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"OrgSpec.{name} must be >= 0, got {getattr(self, name)}")
        for name in (
            "inactive_share",
            "nested_group_share",
            "device_member_share",
            "dynamic_team_share",
            "nameless_share",
            "no_web_login_share",
            "inactive_group_share",
            "empty_group_share",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"OrgSpec.{name} must be within [0, 1], got {getattr(self, name)}")
        if self.nested_group_share + self.device_member_share + self.dynamic_team_share > 1.0:
            raise ValueError("OrgSpec: the nested, device and dynamic-team shares must add up to <= 1")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def to_json_bytes(value: object) -> bytes:
    """Compact UTF-8 JSON, the one serialisation every page of the simulator uses."""
    return _ENCODER.encode(value).encode("utf-8")


def _format_uuid(n: int) -> str:
    n = (n & ~(0xF << 76)) | (0x4 << 76)  # version 4
    n = (n & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _timestamp(seconds: int, millis: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _ascii_slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum()) or "user"


class Org:
    """The organisation: what each endpoint returns, plus ground-truth helpers for tests."""

    def __init__(self, spec: OrgSpec) -> None:
        self.spec = spec
        self.people: list[dict] = []
        self.hidden_people: list[dict] = []
        self.groups: list[dict] = []
        self.dynamic_teams: list[dict] = []
        self.sites: list[dict] = []
        # Per group (same order as `groups`): member codes, in the order /members returns them.
        self._member_codes: list[array] = []
        # Per visible person: how many EMAIL and phone devices they own.
        self._email_device_counts = bytearray()
        self._phone_device_counts = bytearray()
        self._group_index_by_key: dict[str, int] = {}
        self._member_json_cache: dict[int, bytes] = {}
        self._group_ref_prefix: list[bytes] = []
        self.members: Mapping[str, list[dict]] = _MembersView(self)

    # ---- ground truth -------------------------------------------------------------------------
    @property
    def all_people(self) -> list[dict]:
        """Visible people followed by hidden people (every PERSON that can be a member)."""
        return self.people + self.hidden_people

    def person_memberships(self) -> set[tuple[str, str]]:
        """(group_id, person_id) of every PERSON member item, hidden people included."""
        persons = self.all_people
        result: set[tuple[str, str]] = set()
        for group, codes in zip(self.groups, self._member_codes, strict=True):
            gid = group["id"]
            result.update((gid, persons[c >> 2]["id"]) for c in codes if c & 3 == _PERSON)
        return result

    def member_count_by_type(self) -> dict[str, int]:
        """Member items per recipientType over all groups (every type present as a key)."""
        counts = [0, 0, 0, 0]
        for codes in self._member_codes:
            for c in codes:
                counts[c & 3] += 1
        return dict(zip(_TAG_NAMES, counts, strict=True))

    def membership_rows(self) -> int:
        """All member items over all groups, i.e. the rows a full members sync yields."""
        return sum(len(codes) for codes in self._member_codes)

    def member_counts(self) -> dict[str, int]:
        """group id -> number of member items (the `total` of its members endpoint)."""
        return {g["id"]: len(c) for g, c in zip(self.groups, self._member_codes, strict=True)}

    def group_by_key(self, key: str) -> dict | None:
        """The group whose id or targetName is `key` (the members endpoint accepts both)."""
        index = self.group_index(key)
        return None if index is None else self.groups[index]

    # ---- explicit edits (tests of what changed between two syncs) -------------------------------
    def with_changes(
        self,
        *,
        add_members: Iterable[tuple[str, str]] = (),
        remove_members: Iterable[tuple[str, str]] = (),
        statuses: Mapping[str, str] | None = None,
        replace: Iterable[str] = (),
    ) -> Org:
        """A copy of this organisation with a few explicit edits; this one stays as it is.

        `add_members` / `remove_members` are (group id, person id) PERSON memberships; `statuses`
        maps person ids to their new status (ACTIVE or INACTIVE); `replace` lists person or group
        ids each replaced by a new one in its place (`replaced_id(old)`, a new targetName, the same
        memberships): one removed and one added, with no other id or index moved. What an
        administrator would do in xMatters between two syncs, so a test can assert exactly which
        changes the second sync reports (serve the copy with `XmattersSimulator.serve`: same URL,
        same credentials). Memberships name the people and groups of this organisation.
        """
        statuses = dict(statuses or {})
        changed = copy.copy(self)
        changed.people = [_with_status(p, statuses) for p in self.people]
        changed.hidden_people = [_with_status(p, statuses) for p in self.hidden_people]
        changed._member_codes = list(self._member_codes)
        changed._member_json_cache = {}
        changed.members = _MembersView(changed)
        replace = list(replace)
        if replace:
            changed._replace(replace)
        code_of = {p["id"]: (i << 2) | _PERSON for i, p in enumerate(self.all_people)}
        unknown = statuses.keys() - code_of.keys()
        if unknown:
            raise KeyError(f"no such person: {sorted(unknown)}")
        for group_id, person_id, add in [
            *((g, p, False) for g, p in remove_members),
            *((g, p, True) for g, p in add_members),
        ]:
            index = self._group_index_by_key[group_id]
            codes = array(changed._member_codes[index].typecode, changed._member_codes[index])
            if add:
                codes.append(code_of[person_id])
            else:
                codes.remove(code_of[person_id])
            changed._member_codes[index] = codes
        return changed

    def replaced_id(self, old_id: str) -> str:
        """The id `with_changes(replace=[old_id])` gives the person or group replacing `old_id`."""
        digest = hashlib.blake2b(f"{self.spec.seed}/replaced/{old_id}".encode(), digest_size=16).digest()
        return _format_uuid(int.from_bytes(digest, "big"))

    def _replace(self, old_ids: list[str]) -> None:
        """Replaces (in this copy) each person or group in `old_ids` by a new one at its index."""
        people = {p["id"]: i for i, p in enumerate(self.all_people)}
        groups = {g["id"]: i for i, g in enumerate(self.groups)}
        all_people, self.groups = self.all_people, list(self.groups)
        for old_id in old_ids:
            new_id = self.replaced_id(old_id)
            if old_id in people:
                old = all_people[people[old_id]]
                new = {**old, "id": new_id, "targetName": f"{old['targetName']}-new"}
                new["links"] = {"self": f"{API_PREFIX}/people/{new_id}"}
                all_people[people[old_id]] = new
            elif old_id in groups:
                old = self.groups[groups[old_id]]
                new = {**old, "id": new_id, "targetName": f"{old['targetName']} (new)"}
                new["links"] = {"self": f"{API_PREFIX}/groups/{new_id}"}
                self.groups[groups[old_id]] = new
            else:
                raise KeyError(f"no such person or group: {old_id}")
        self.people, self.hidden_people = all_people[: len(self.people)], all_people[len(self.people) :]
        self._group_index_by_key = {}
        for index, group in enumerate(self.groups):
            self._group_index_by_key.setdefault(group["targetName"], index)
        for index, group in enumerate(self.groups):
            self._group_index_by_key[group["id"]] = index
        self._group_ref_prefix = [
            b'{"group":' + to_json_bytes(Org._group_ref(g)) + b',"member":' for g in self.groups
        ]
        for derived in ("devices", "phone_devices"):  # their owners are people: derived again
            self.__dict__.pop(derived, None)

    # ---- serving helpers (used by the HTTP server) ----------------------------------------------
    def group_index(self, key: str) -> int | None:
        """Index in `groups` of the group with this id or (decoded) targetName."""
        return self._group_index_by_key.get(key)

    def member_total(self, group_index: int) -> int:
        return len(self._member_codes[group_index])

    def members_json(self, group_index: int, start: int, stop: int) -> bytes:
        """The JSON array of member items [start:stop) of a group, assembled from cached fragments."""
        codes = self._member_codes[group_index][start:stop]
        if not codes:
            return b"[]"
        cache = self._member_json_cache
        members = [cache.get(code) or self._cache_member_json(code) for code in codes]
        # Items are `{"group":<ref>,"member":<member>}`: one join with `},{"group":<ref>,"member":`.
        prefix = self._group_ref_prefix[group_index]
        return b"[" + prefix + (b"}," + prefix).join(members) + b"}]"

    def encode_member_fragments(self) -> int:
        """Encode every member's JSON fragment now, instead of on its first members page.

        A fresh simulator otherwise spends its first sync's CPU encoding them (~0.9 s slower M
        extract at 20 ms latency in the benchmark, whose first measured sync meets a fresh
        simulator); xMatters itself answers the first read as fast as the next. Returns how many.
        """
        for codes in self._member_codes:
            for code in codes:
                if code not in self._member_json_cache:
                    self._cache_member_json(code)
        return len(self._member_json_cache)

    def _cache_member_json(self, code: int) -> bytes:
        member = self._member_json_cache[code] = to_json_bytes(self._member_dict(code))
        return member

    def member_items(self, group_index: int) -> list[dict]:
        group = self.groups[group_index]
        ref = self._group_ref(group)
        return [{"group": ref, "member": self._member_dict(c)} for c in self._member_codes[group_index]]

    @cached_property
    def devices(self) -> list[dict]:
        """EMAIL devices of visible people (what `/devices?deviceType=EMAIL` returns), person order."""
        return [
            self._device(p, slot)
            for p, count in enumerate(self._email_device_counts)
            for slot in _EMAIL_SLOTS[:count]
        ]

    @cached_property
    def phone_devices(self) -> list[dict]:
        """VOICE and SMS devices of visible people (they also show up as DEVICE members)."""
        return [
            self._device(p, _PHONE_SLOT_BASE + k)
            for p, count in enumerate(self._phone_device_counts)
            for k in range(count)
        ]

    def devices_of_type(self, device_type: str | None) -> list[dict]:
        """Devices filtered like `/devices?deviceType=...` (None: all, emails first)."""
        if device_type is None:
            return self.devices + self.phone_devices
        if device_type == "EMAIL":
            return self.devices
        return [d for d in self.phone_devices if d["deviceType"] == device_type]

    # ---- member objects --------------------------------------------------------------------------
    @staticmethod
    def _group_ref(group: dict) -> dict:
        return {
            "id": group["id"],
            "targetName": group["targetName"],
            "recipientType": "GROUP",
            "groupType": group["groupType"],
            "links": group["links"],
        }

    def _member_dict(self, code: int) -> dict:
        tag, index = code & 3, code >> 2
        if tag == _PERSON:
            person = (
                self.people[index]
                if index < len(self.people)
                else self.hidden_people[index - len(self.people)]
            )
            member = {"id": person["id"], "targetName": person["targetName"], "recipientType": "PERSON"}
            for key in ("firstName", "lastName"):
                if key in person:
                    member[key] = person[key]
            member["licenseType"] = person["licenseType"]
            member["status"] = person["status"]
            member["links"] = person["links"]
            return member
        if tag == _GROUP:
            group = self.groups[index]
            return {
                "id": group["id"],
                "targetName": group["targetName"],
                "recipientType": "GROUP",
                "groupType": group["groupType"],
                "status": group["status"],
                "links": group["links"],
            }
        if tag == _DEVICE:
            device = self._device(index // _SLOTS, index % _SLOTS)
            return {
                "id": device["id"],
                "targetName": device["targetName"],
                "recipientType": "DEVICE",
                "deviceType": device["deviceType"],
                "name": device["name"],
                "owner": device["owner"],
                "status": device["status"],
                "links": device["links"],
            }
        team = self.dynamic_teams[index]
        return {"id": team["id"], "targetName": team["targetName"], "recipientType": "DYNAMIC_TEAM"}

    def _device(self, person_index: int, slot: int) -> dict:
        """A device derived from a hash of (seed, person, slot): stable whatever the access order."""
        digest = hashlib.blake2b(
            f"{self.spec.seed}/device/{person_index}/{slot}".encode(), digest_size=24
        ).digest()
        person = self.people[person_index]
        owner = {
            "id": person["id"],
            "targetName": person["targetName"],
            "recipientType": "PERSON",
            "links": person["links"],
        }
        device_id = _format_uuid(int.from_bytes(digest[:16], "big"))
        if slot in _EMAIL_SLOTS:
            device_type, name = "EMAIL", _EMAIL_DEVICE_NAMES[slot]
        else:
            device_type, name = _PHONE_DEVICES[slot - _PHONE_SLOT_BASE]
        device: dict = {
            "id": device_id,
            "name": name,
            "recipientType": "DEVICE",
            "deviceType": device_type,
            "targetName": f"{person['targetName']}|{name}",
            "defaultDevice": slot in (0, _PHONE_SLOT_BASE),
            "priorityThreshold": _PRIORITIES[digest[16] % 3],
            "sequence": slot % _PHONE_SLOT_BASE + 1,
            "delay": 0,
            "owner": owner,
            "status": "ACTIVE" if digest[17] % 10 else "INACTIVE",
            "externallyOwned": False,
            "testStatus": "UNTESTED",
            "links": {"self": f"{API_PREFIX}/devices/{device_id}"},
        }
        if device_type == "EMAIL":
            local = _ascii_slug(person.get("firstName", "")) + "." + _ascii_slug(person.get("lastName", ""))
            domain = ("example.com", "example.org", "exämple.net")[digest[18] % 3]
            device["emailAddress"] = f"{local}{person_index}{'' if slot == 0 else slot}@{domain}"
            if self.spec.hostile_text and (person_index, slot) == (BAD_EMAIL[0], 0):
                device["emailAddress"] = BAD_EMAIL[1]
        else:
            device["phoneNumber"] = f"+1{2000000000 + int.from_bytes(digest[19:23], 'big') % 7999999999}"
        return device


def _with_status(person: dict, statuses: Mapping[str, str]) -> dict:
    status = statuses.get(person["id"])
    return person if status is None or status == person["status"] else {**person, "status": status}


class _MembersView(Mapping[str, list[dict]]):
    """group id -> member items, materialised on each lookup (the org stores only member codes)."""

    def __init__(self, org: Org) -> None:
        self._org = org

    def __getitem__(self, group_id: str) -> list[dict]:
        index = self._org.group_index(group_id)
        if index is None or self._org.groups[index]["id"] != group_id:
            raise KeyError(group_id)
        return self._org.member_items(index)

    def __iter__(self) -> Iterator[str]:
        return (g["id"] for g in self._org.groups)

    def __len__(self) -> int:
        return len(self._org.groups)


def build_org(spec: OrgSpec | None = None) -> Org:
    """Build the organisation for `spec` (deterministic from `spec.seed`)."""
    return _Builder(spec or OrgSpec()).build()


class _Builder:
    def __init__(self, spec: OrgSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.org = Org(spec)

    def uuid(self) -> str:
        return _format_uuid(self.rng.getrandbits(128))

    def timestamp(self, low: int = _EPOCH_2015, high: int = _EPOCH_2024) -> str:
        return _timestamp(self.rng.randrange(low, high), self.rng.randrange(1000))

    def build(self) -> Org:
        org = self.org
        org.sites = [self.site(i) for i in range(max(1, self.spec.sites))]
        n_inactive = round(self.spec.people * self.spec.inactive_share)
        inactive = set(self.rng.sample(range(self.spec.people), n_inactive))
        org.people = [self.person(i, i in inactive) for i in range(self.spec.people)]
        org.hidden_people = [
            self.person(self.spec.people + i, self.rng.random() < 0.2) for i in range(self.spec.hidden_people)
        ]
        org.groups = [self.group(i) for i in range(self.spec.groups)]
        if self.spec.groups and (self.spec.dynamic_team_share > 0 or self.spec.groups > 1):
            org.dynamic_teams = [self.dynamic_team(i) for i in range(max(1, self.spec.groups // 25))]
        self.devices_per_person()
        self.memberships()
        if self.spec.hostile_text:  # after everything drawn from `rng`: the rest of the org is unchanged
            apply_hostile_text(
                org.people, org.hidden_people, org.groups, min(self.spec.large_groups, len(org.groups))
            )
            if BAD_EMAIL[0] < len(org._email_device_counts):  # that person has an EMAIL device
                org._email_device_counts[BAD_EMAIL[0]] = max(1, org._email_device_counts[BAD_EMAIL[0]])
        for index, group in enumerate(org.groups):
            org._group_index_by_key.setdefault(group["targetName"], index)
        for index, group in enumerate(org.groups):  # ids win over a targetName that looks like an id
            org._group_index_by_key[group["id"]] = index
        org._group_ref_prefix = [
            b'{"group":' + to_json_bytes(Org._group_ref(g)) + b',"member":' for g in org.groups
        ]
        return org

    # ---- entities -----------------------------------------------------------------------------------
    def site(self, i: int) -> dict:
        site_id = self.uuid()
        return {
            "id": site_id,
            "name": _SITES[i % len(_SITES)] + ("" if i < len(_SITES) else f" {i}"),
            "links": {"self": f"{API_PREFIX}/sites/{site_id}"},
        }

    def person(self, i: int, is_inactive: bool) -> dict:
        rng = self.rng
        spec = self.spec
        person_id = self.uuid()
        first = _FIRST_NAMES[rng.randrange(len(_FIRST_NAMES))]
        last = _LAST_NAMES[rng.randrange(len(_LAST_NAMES))]
        nameless = rng.random() < spec.nameless_share
        style = rng.random()
        if nameless:
            target_name = f"svc/{_SERVICE_WORDS[rng.randrange(len(_SERVICE_WORDS))]}-{i}"
        elif style < 0.5:
            target_name = f"{first}.{last}{i}".lower()
        elif style < 0.8:
            target_name = f"{_ascii_slug(first)}.{_ascii_slug(last)}{i}@example.com"
        else:
            target_name = f"{first} {last} {i}"
        created_s = rng.randrange(_EPOCH_2015, _EPOCH_2024 - 86400)
        person: dict = {
            "id": person_id,
            "targetName": target_name,
            "recipientType": "PERSON",
            "externallyOwned": rng.random() < 0.3,
            "links": {"self": f"{API_PREFIX}/people/{person_id}"},
        }
        if not nameless:
            person["firstName"] = first
            person["lastName"] = last
        person["language"] = _LANGUAGES[rng.randrange(len(_LANGUAGES))]
        person["timezone"] = _TIMEZONES[rng.randrange(len(_TIMEZONES))]
        web_login = rng.random()
        if web_login >= spec.no_web_login_share:
            alias = f"{_ascii_slug(first)[:1]}{_ascii_slug(last)}{i}"
            person["webLogin"] = target_name if web_login < 0.8 else alias
        if rng.random() < 0.6:
            person["phoneLogin"] = str(rng.randrange(100000, 999999))
        person["site"] = self.org.sites[rng.randrange(len(self.org.sites))]
        if rng.random() < 0.5:
            person["externalKey"] = f"EMP-{i:06d}"
        if rng.random() < 0.85:
            person["lastLogin"] = self.timestamp(created_s, _EPOCH_2024)
        person["whenCreated"] = _timestamp(created_s, rng.randrange(1000))
        person["whenUpdated"] = self.timestamp(created_s, _EPOCH_2024)
        properties = self.properties()
        if properties is not None:
            person["properties"] = properties
        person["status"] = "INACTIVE" if is_inactive else "ACTIVE"
        person["licenseType"] = "STAKEHOLDER_USER" if rng.random() < 0.2 else "FULL_USER"
        person["locked"] = rng.random() < 0.03
        return person

    def properties(self) -> dict | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.1:
            return None
        if roll < 0.2:
            return {}
        props: dict = {"Cost Center": f"CC-{rng.randrange(1000, 9999)}"}
        if rng.random() < 0.7:
            props["Employee Number"] = rng.randrange(10000, 99999)
        if rng.random() < 0.5:
            props["Hourly Rate"] = round(rng.uniform(20, 120), 2)
        props["Remote Worker"] = rng.random() < 0.4
        if rng.random() < 0.6:
            props["Skills"] = rng.sample(_SKILLS, rng.randrange(0, 4))
        return props

    def group(self, i: int) -> dict:
        rng = self.rng
        spec = self.spec
        group_id = self.uuid()
        large = i < spec.large_groups
        if large:
            name = "All Employees" + ("" if i == 0 else f" {i + 1}")
            group_type, status = "BROADCAST", "ACTIVE"
        else:
            j = i - spec.large_groups
            base = _GROUP_NAMES[j % len(_GROUP_NAMES)]
            name = base if j < len(_GROUP_NAMES) else f"{base} {j // len(_GROUP_NAMES) + 1}"
            # The first regular groups cover every type and status; the rest are drawn.
            forced = {0: ("ON_CALL", "ACTIVE"), 1: ("DYNAMIC", "ACTIVE"), 2: ("BROADCAST", "INACTIVE")}
            if j in forced:
                group_type, status = forced[j]
            else:
                group_type = rng.choices(
                    [t for t, _ in _GROUP_TYPE_WEIGHTS], [w for _, w in _GROUP_TYPE_WEIGHTS]
                )[0]
                status = "INACTIVE" if rng.random() < spec.inactive_group_share else "ACTIVE"
        group: dict = {
            "id": group_id,
            "targetName": name,
            "recipientType": "GROUP",
            "status": status,
            "groupType": group_type,
            "created": self.timestamp(),
        }
        roll = rng.random()
        if roll < 0.1:
            group["description"] = ("Escalation path for P1 incidents; see runbook/é/日本. " * 30)[:1024]
        elif roll < 0.7:
            group["description"] = f"{name}\nOwner: team {i}"
        group["externallyOwned"] = rng.random() < 0.2
        group["allowDuplicates"] = rng.random() < 0.5
        group["useDefaultDevices"] = rng.random() < 0.8
        group["observedByAll"] = rng.random() < 0.7
        group["site"] = self.org.sites[rng.randrange(len(self.org.sites))]
        group["links"] = {"self": f"{API_PREFIX}/groups/{group_id}"}
        return group

    def dynamic_team(self, i: int) -> dict:
        name = _DYNAMIC_TEAM_NAMES[i % len(_DYNAMIC_TEAM_NAMES)]
        return {
            "id": self.uuid(),
            "targetName": name if i < len(_DYNAMIC_TEAM_NAMES) else f"{name} {i}",
            "recipientType": "DYNAMIC_TEAM",
        }

    def devices_per_person(self) -> None:
        rng = self.rng.random
        emails = bytearray(self.spec.people)
        phones = bytearray(self.spec.people)
        for p in range(self.spec.people):
            roll = rng()
            emails[p] = 0 if roll < 0.1 else 1 if roll < 0.7 else 2 if roll < 0.95 else 3
            roll = rng()
            phones[p] = 0 if roll < 0.4 else 1 if roll < 0.8 else 2
        self.org._email_device_counts = emails
        self.org._phone_device_counts = phones

    # ---- memberships ----------------------------------------------------------------------------------
    def memberships(self) -> None:
        spec = self.spec
        org = self.org
        rng = self.rng
        visible = spec.people
        n_groups = spec.groups
        regular = list(range(min(spec.large_groups, n_groups), n_groups))
        empty_groups = {g for g in regular[3:] if rng.random() < spec.empty_group_share}
        if len(regular) >= 6 and not empty_groups:
            empty_groups.add(regular[-1])
        codes_per_group: list[list[int]] = []
        for g in range(n_groups):
            if g < spec.large_groups:
                codes_per_group.append(self.large_group_codes())
            elif g in empty_groups:
                codes_per_group.append([])
            else:
                codes_per_group.append(self.regular_group_codes(g))
        # Every hidden person is a member of some regular group (that is what makes them hidden).
        fillable = [g for g in regular if g not in empty_groups]
        if fillable:
            for h in range(spec.hidden_people):
                group_codes = codes_per_group[fillable[rng.randrange(len(fillable))]]
                code = (visible + h) << 2 | _PERSON
                if code not in group_codes:
                    group_codes.insert(rng.randrange(len(group_codes) + 1), code)
        # The first regular group carries one member of each non-person type, whatever the shares,
        # unless groups have no members at all (`members_per_group=0`: a new or trial tenant).
        if regular and regular[0] not in empty_groups and spec.members_per_group:
            self.ensure_every_member_type(regular[0], codes_per_group[regular[0]])
        org._member_codes = [array("q", codes) for codes in codes_per_group]

    def ensure_every_member_type(self, g: int, codes: list[int]) -> None:
        present = {c & 3 for c in codes}
        if _GROUP not in present and self.spec.groups > 1:
            codes.append(((g + 1) % self.spec.groups) << 2 | _GROUP)
        if _DEVICE not in present:
            device = self.random_device_index()
            if device is not None:
                codes.append(device << 2 | _DEVICE)
        if _DYNAMIC_TEAM not in present and self.org.dynamic_teams:
            codes.append(0 << 2 | _DYNAMIC_TEAM)

    def large_group_codes(self) -> list[int]:
        size = self.spec.large_group_size
        visible = self.spec.people
        if size <= visible:
            return [p << 2 | _PERSON for p in self.rng.sample(range(visible), size)]
        persons = list(range(visible))
        self.rng.shuffle(persons)
        missing = size - visible - len(self.org.hidden_people)
        for _ in range(max(0, missing)):  # top-up: more out-of-scope people
            self.org.hidden_people.append(
                self.person(visible + len(self.org.hidden_people), self.rng.random() < 0.2)
            )
        persons.extend(range(visible, size))
        return [p << 2 | _PERSON for p in persons]

    def random_device_index(self) -> int | None:
        emails, phones = self.org._email_device_counts, self.org._phone_device_counts
        if not any(emails) and not any(phones):
            return None
        while True:
            p = self.rng.randrange(len(emails))
            slots = [*_EMAIL_SLOTS[: emails[p]], *(_PHONE_SLOT_BASE + k for k in range(phones[p]))]
            if slots:
                return p * _SLOTS + slots[self.rng.randrange(len(slots))]

    def regular_group_codes(self, g: int) -> list[int]:
        spec = self.spec
        rng = self.rng
        mean = spec.members_per_group
        total = rng.randrange(max(1, mean // 2), mean + mean // 2 + 1) if mean else 0

        def share(fraction: float) -> int:
            return int(total * fraction + rng.random())  # stochastic rounding keeps the mean exact

        n_nested = share(spec.nested_group_share) if spec.groups > 1 else 0
        n_devices = share(spec.device_member_share)
        n_teams = share(spec.dynamic_team_share) if self.org.dynamic_teams else 0
        n_people = min(spec.people, max(0, total - n_nested - n_devices - n_teams))
        codes = [p << 2 | _PERSON for p in rng.sample(range(spec.people), n_people)]
        if n_nested:
            others = rng.sample(range(spec.groups - 1), min(n_nested, spec.groups - 1))
            codes.extend((o if o < g else o + 1) << 2 | _GROUP for o in others)
        seen_devices: set[int] = set()
        for _ in range(n_devices):
            device = self.random_device_index()
            if device is not None and device not in seen_devices:
                seen_devices.add(device)
                codes.append(device << 2 | _DEVICE)
        if n_teams:
            teams = rng.sample(range(len(self.org.dynamic_teams)), min(n_teams, len(self.org.dynamic_teams)))
            codes.extend(t << 2 | _DYNAMIC_TEAM for t in teams)
        if len(codes) > n_people:  # mix the non-person members in among the people
            rng.shuffle(codes)
        return codes


def people_by_id(people: Sequence[dict]) -> dict[str, dict]:
    """Index persons by id (a small convenience for tests)."""
    return {p["id"]: p for p in people}
