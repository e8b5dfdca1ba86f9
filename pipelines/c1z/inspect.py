"""`baton-xmatters inspect`: the `baton` CLI's read commands, for checking a `.c1z` without Go.

Columns (console) and object shapes (json, protojson field names) follow `baton`'s own output, so a
file can be compared side by side with `baton -f FILE <command> -o json`. `stats -o json` prints
`{"resource_types": {<type id>: n, ...}, "entitlements": n, "grants": n}`. An annotation whose
message type we do not define (newer SDKs add some) is shown opaque, as `{"@type": url, "value":
base64}`, instead of failing the whole listing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from pipelines.argument_parser import non_empty
from pipelines.c1z.errors import C1ZFormatError
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import C1ZReader, open_c1z
from pipelines.c1z.summaries import ResourceKey
from pipelines.terminal_text import cell, printable
from pipelines.text_table import aligned_table
from pipelines.utc_timestamps import rfc3339_utc

COMMANDS = ("resource-types", "resources", "entitlements", "grants", "syncs", "stats")
FILTERED_BY_TYPE = ("resources", "entitlements", "grants")  # baton's `-t`: these three only
EXIT_USAGE = 2


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(  # baton's default, and the file the sync writes by default
        "-f",
        "--file",
        type=non_empty,
        default=os.environ.get("BATON_FILE") or "sync.c1z",  # empty is unset, as for the sync
        help="the .c1z file to read (default sync.c1z, $BATON_FILE)",
    )
    parser.add_argument("command", choices=COMMANDS, help="what to list")
    parser.add_argument("-o", "--output-format", choices=("console", "json"), default="console")
    parser.add_argument(
        "--sync-id", type=non_empty, default=None, help="read this sync instead of the latest one"
    )
    parser.add_argument(
        "-t",
        "--resource-type",
        type=non_empty,
        default=None,
        help="only this resource type (resources; entitlements and grants: of resources of this type)",
    )


def _table(rows: Sequence[Sequence[str]]) -> str:
    """A plain header + rows table with ` | ` separators, like pterm's default table.

    Each cell is cut to a readable width and its control characters escaped (pipelines/terminal_text):
    a crafted 50 MB name padded every row to its width, and ESC sequences drove the terminal.
    """
    return "\n".join(aligned_table([[cell(text) for text in row] for row in rows]))


def _as_dict(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    try:
        return MessageToDict(message)
    except TypeError:  # protojson cannot render an Any whose message type is not in our pool
        return _with_opaque_anys(message)


def _with_opaque_anys(message: Message) -> dict[str, Any]:
    """protojson of `message`, field by field, with each unknown Any kept as its type URL and bytes."""
    rendered: dict[str, Any] = {}
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is not None and kind.full_name == "google.protobuf.Any":
            anys = [_any_dict(item) for item in (value if _is_repeated(field) else [value])]
            rendered[field.json_name] = anys if _is_repeated(field) else anys[0]
        elif kind is not None and not kind.GetOptions().map_entry:
            items = [_as_dict(item) for item in (value if _is_repeated(field) else [value])]
            rendered[field.json_name] = items if _is_repeated(field) else items[0]
        else:  # scalars, enums and maps: protojson of a copy that holds only this field
            alone = type(message)()
            alone.CopyFrom(message)
            for other, _ in message.ListFields():
                if other.name != field.name:
                    alone.ClearField(other.name)
            rendered.update(MessageToDict(alone))
    return rendered


def _any_dict(item: Any) -> dict[str, Any]:
    try:
        return MessageToDict(item)
    except TypeError:
        return {"@type": item.type_url, "value": base64.b64encode(item.value).decode("ascii")}


def _is_repeated(field: Any) -> bool:
    return bool(field.label == field.LABEL_REPEATED)


def _resource_index(reader: C1ZReader) -> dict[tuple[str, str], pb.Resource]:
    return {(r.id.resource_type, r.id.resource): r for r in reader.resources()}


def _resource_names(reader: C1ZReader) -> dict[ResourceKey, str]:
    """Each resource's display name as a console cell: a huge name is never held whole for a table."""
    return {r.id: cell(r.display_name) for r in reader.resource_summaries()}


def _lookup(items: dict[Any, Any], key: Any, what: str) -> Any:
    if key not in items:
        raise C1ZFormatError(f"{what} {key!r} referenced by the sync does not exist")
    return items[key]


def _resource_types(reader: C1ZReader, fmt: str) -> str:
    types = list(reader.resource_types())
    if fmt == "json":
        return json.dumps({"resourceTypes": [{"resourceType": _as_dict(t)} for t in types]})
    rows = [["ID", "Display Name", "Traits"]]
    rows += [
        [t.id, t.display_name, ", ".join(pb.ResourceType.Trait.Name(x) for x in t.traits)] for t in types
    ]
    return _table(rows)


def _resources(reader: C1ZReader, fmt: str, resource_type: str | None) -> str:
    types = {t.id: t for t in reader.resource_types()}
    if fmt == "json":
        index = _resource_index(reader)
        items = []
        for resource in reader.resources(resource_type):
            item = {
                "resource": _as_dict(resource),
                "resourceType": _as_dict(_lookup(types, resource.id.resource_type, "resource type")),
                "parent": _as_dict(_parent(resource, index)),
            }
            items.append({k: v for k, v in item.items() if v is not None})
        return json.dumps({"resources": items})
    names = _resource_names(reader)
    rows = [["ID", "Display Name", "Resource Type", "Parent Resource"]]
    for r in reader.resource_summaries(resource_type):
        type_name = _lookup(types, r.id.resource_type, "resource type").display_name
        parent_text = "-"
        if r.parent is not None:
            parent_text = f"{_lookup(names, r.parent, 'parent resource')} ({r.parent.resource_type})"
        rows.append([cell(r.id.resource), cell(r.display_name), type_name, parent_text])
    return _table(rows)


def _parent(resource: pb.Resource, index: dict[tuple[str, str], pb.Resource]) -> pb.Resource | None:
    if not resource.HasField("parent_resource_id"):
        return None
    key = (resource.parent_resource_id.resource_type, resource.parent_resource_id.resource)
    return _lookup(index, key, "parent resource")


def _entitlements(reader: C1ZReader, fmt: str, resource_type: str | None) -> str:
    types = {t.id: t for t in reader.resource_types()}
    if fmt == "json":
        index = _resource_index(reader)
        items = []
        for ent in reader.entitlements():
            type_ = _lookup(types, ent.resource.id.resource_type, "resource type")
            if resource_type is not None and type_.id != resource_type:
                continue
            key = (ent.resource.id.resource_type, ent.resource.id.resource)
            resource = _lookup(index, key, "resource")
            items.append(
                {
                    "entitlement": _as_dict(ent),
                    "resource": _as_dict(resource),
                    "resourceType": _as_dict(type_),
                }
            )
        return json.dumps({"entitlements": items})
    names = _resource_names(reader)
    rows = [["ID", "Display Name", "Resource Type", "Resource", "Permission"]]
    for ent in reader.entitlement_summaries():
        type_ = _lookup(types, ent.resource.resource_type, "resource type")
        if resource_type is not None and type_.id != resource_type:
            continue
        name = _lookup(names, ent.resource, "resource")
        rows.append([cell(ent.id), cell(ent.display_name), type_.display_name, name, cell(ent.slug)])
    return _table(rows)


def _grants(reader: C1ZReader, fmt: str, resource_type: str | None) -> str:
    types = {t.id: t for t in reader.resource_types()}
    if fmt == "json":
        index = _resource_index(reader)
        entitlements = {e.id: e for e in reader.entitlements()}
        keys = ("grant", "entitlement", "principal", "resource", "resourceType")
        items = []
        for grant in reader.grants():
            ent = _lookup(entitlements, grant.entitlement.id, "entitlement")
            principal_id = grant.principal.id
            principal = _lookup(index, (principal_id.resource_type, principal_id.resource), "principal")
            res_id = grant.entitlement.resource.id
            if resource_type is not None and res_id.resource_type != resource_type:
                continue
            resource = _lookup(index, (res_id.resource_type, res_id.resource), "resource")
            type_ = _lookup(types, res_id.resource_type, "resource type")
            items.append(
                dict(zip(keys, map(_as_dict, (grant, ent, principal, resource, type_)), strict=True))
            )
        return json.dumps({"grants": items})
    names = _resource_names(reader)
    entitlement_names = {e.id: cell(e.display_name) for e in reader.entitlement_summaries()}
    rows = [["Resource Type", "Resource", "Entitlement", "Principal"]]
    for grant in reader.grant_summaries():
        if resource_type is not None and grant.resource.resource_type != resource_type:
            continue
        ent_name = _lookup(entitlement_names, grant.entitlement_id, "entitlement")
        principal = _lookup(names, grant.principal, "principal")
        resource = _lookup(names, grant.resource, "resource")
        type_name = _lookup(types, grant.resource.resource_type, "resource type").display_name
        rows.append([type_name, resource, ent_name, principal])
    return _table(rows)


def _time_text(moment: Any) -> str:
    return moment.isoformat() if moment is not None else ""


def _json_time(moment: Any) -> str:
    """As `baton syncs -o json` writes it (protobuf's JSON): `2025-12-17T16:31:25.057185Z`."""
    return rfc3339_utc(moment) if moment is not None else ""


def _syncs(reader: C1ZReader, fmt: str) -> str:
    syncs = reader.syncs()
    if fmt == "json":
        items = []
        for s in syncs:
            item = {
                "id": s["id"],
                "startedAt": _json_time(s["started_at"]),
                "endedAt": _json_time(s["ended_at"]),
            }
            item.update(syncToken=s["sync_token"], syncType=s["sync_type"], parentSyncId=s["parent_sync_id"])
            items.append({k: v for k, v in item.items() if v})
        return json.dumps({"syncs": items})
    rows = [["ID", "Started At", "Ended At", "Sync Type", "Parent Sync ID"]]
    for s in syncs:
        ended = _time_text(s["ended_at"]) or "-"
        rows.append([s["id"], _time_text(s["started_at"]), ended, s["sync_type"], s["parent_sync_id"] or "-"])
    return _table(rows)


def _stats(reader: C1ZReader, fmt: str) -> str:
    stats = reader.stats()
    if fmt == "json":
        return json.dumps(stats)
    counts = {**stats["resource_types"], "entitlements": stats["entitlements"], "grants": stats["grants"]}
    counts["resource_types"] = len(stats["resource_types"])
    return _table([["Type", "Count"], *([k, str(v)] for k, v in sorted(counts.items()))])


def _unused_flag(args: argparse.Namespace) -> str | None:
    """What to say when a flag is given to a listing that does not use it (it was ignored silently)."""
    if args.resource_type is not None and args.command not in FILTERED_BY_TYPE:
        return (
            f"--resource-type filters resources, entitlements and grants, not '{args.command}'; leave it out"
        )
    if args.sync_id is not None and args.command == "syncs":
        return "--sync-id does not apply to 'inspect syncs', which lists every sync of the file; leave it out"
    return None


def run_inspect(args: argparse.Namespace) -> int:
    """Print the requested listing; on any unreadable input print one `error: ...` line, return 1.

    A flag the listing does not use is refused (exit 2) rather than ignored: `stats --resource-type
    user` printed every type's count, which read as a filtered answer.
    """
    if (unused := _unused_flag(args)) is not None:
        print(f"baton-xmatters: error: {unused}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with open_c1z(os.path.expanduser(args.file), sync_id=args.sync_id) as reader:
            command = args.command
            if command == "resource-types":
                text = _resource_types(reader, args.output_format)
            elif command == "resources":
                text = _resources(reader, args.output_format, args.resource_type)
            elif command == "entitlements":
                text = _entitlements(reader, args.output_format, args.resource_type)
            elif command == "grants":
                text = _grants(reader, args.output_format, args.resource_type)
            elif command == "syncs":
                text = _syncs(reader, args.output_format)
            else:
                text = _stats(reader, args.output_format)
    except (C1ZFormatError, OSError) as exc:
        print(f"baton-xmatters: error: {printable(str(exc))}", file=sys.stderr)
        return 1
    print(text)
    return 0
