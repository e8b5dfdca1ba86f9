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

from pipelines.c1z.errors import C1ZFormatError
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import C1ZReader, open_c1z

COMMANDS = ("resource-types", "resources", "entitlements", "grants", "syncs", "stats")


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(  # baton's default, and the file the sync writes by default
        "-f",
        "--file",
        default=os.environ.get("BATON_FILE", "sync.c1z"),
        help="the .c1z file to read (default sync.c1z, $BATON_FILE)",
    )
    parser.add_argument("command", choices=COMMANDS, help="what to list")
    parser.add_argument("-o", "--output-format", choices=("console", "json"), default="console")
    parser.add_argument("--sync-id", default=None, help="read this sync instead of the latest one")
    parser.add_argument(
        "--resource-type", default=None, help="only this resource type (resources, entitlements)"
    )


def _table(rows: Sequence[Sequence[str]]) -> str:
    """A plain header + rows table with ` | ` separators, like pterm's default table."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


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
    index = _resource_index(reader)
    out = []
    for resource in reader.resources(resource_type):
        parent = None
        if resource.HasField("parent_resource_id"):
            key = (resource.parent_resource_id.resource_type, resource.parent_resource_id.resource)
            parent = _lookup(index, key, "parent resource")
        out.append((resource, _lookup(types, resource.id.resource_type, "resource type"), parent))
    if fmt == "json":
        items = [
            {"resource": _as_dict(r), "resourceType": _as_dict(t), "parent": _as_dict(p)} for r, t, p in out
        ]
        return json.dumps({"resources": [{k: v for k, v in i.items() if v is not None} for i in items]})
    rows = [["ID", "Display Name", "Resource Type", "Parent Resource"]]
    for r, t, p in out:
        parent_text = f"{p.display_name} ({p.id.resource_type})" if p is not None else "-"
        rows.append([r.id.resource, r.display_name, t.display_name, parent_text])
    return _table(rows)


def _entitlements(reader: C1ZReader, fmt: str, resource_type: str | None) -> str:
    types = {t.id: t for t in reader.resource_types()}
    index = _resource_index(reader)
    out = []
    for ent in reader.entitlements():
        type_ = _lookup(types, ent.resource.id.resource_type, "resource type")
        if resource_type is not None and type_.id != resource_type:
            continue
        resource = _lookup(index, (ent.resource.id.resource_type, ent.resource.id.resource), "resource")
        out.append((ent, resource, type_))
    if fmt == "json":
        items = [
            {"entitlement": _as_dict(e), "resource": _as_dict(r), "resourceType": _as_dict(t)}
            for e, r, t in out
        ]
        return json.dumps({"entitlements": items})
    rows = [["ID", "Display Name", "Resource Type", "Resource", "Permission"]]
    rows += [[e.id, e.display_name, t.display_name, r.display_name, e.slug] for e, r, t in out]
    return _table(rows)


def _grants(reader: C1ZReader, fmt: str) -> str:
    types = {t.id: t for t in reader.resource_types()}
    index = _resource_index(reader)
    entitlements = {e.id: e for e in reader.entitlements()}
    out = []
    for grant in reader.grants():
        ent = _lookup(entitlements, grant.entitlement.id, "entitlement")
        principal = _lookup(
            index, (grant.principal.id.resource_type, grant.principal.id.resource), "principal"
        )
        res_id = grant.entitlement.resource.id
        resource = _lookup(index, (res_id.resource_type, res_id.resource), "resource")
        out.append((grant, ent, principal, resource, _lookup(types, res_id.resource_type, "resource type")))
    if fmt == "json":
        keys = ("grant", "entitlement", "principal", "resource", "resourceType")
        return json.dumps({"grants": [dict(zip(keys, map(_as_dict, row), strict=True)) for row in out]})
    rows = [["Resource Type", "Resource", "Entitlement", "Principal"]]
    rows += [[t.display_name, r.display_name, e.display_name, p.display_name] for _, e, p, r, t in out]
    return _table(rows)


def _time_text(moment: Any) -> str:
    return moment.isoformat() if moment is not None else ""


def _syncs(reader: C1ZReader, fmt: str) -> str:
    syncs = reader.syncs()
    if fmt == "json":
        items = []
        for s in syncs:
            item = {
                "id": s["id"],
                "startedAt": _time_text(s["started_at"]),
                "endedAt": _time_text(s["ended_at"]),
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


def run_inspect(args: argparse.Namespace) -> int:
    """Print the requested listing; on any unreadable input print one `error: ...` line, return 1."""
    try:
        with open_c1z(args.file, sync_id=args.sync_id) as reader:
            command = args.command
            if command == "resource-types":
                text = _resource_types(reader, args.output_format)
            elif command == "resources":
                text = _resources(reader, args.output_format, args.resource_type)
            elif command == "entitlements":
                text = _entitlements(reader, args.output_format, args.resource_type)
            elif command == "grants":
                text = _grants(reader, args.output_format)
            elif command == "syncs":
                text = _syncs(reader, args.output_format)
            else:
                text = _stats(reader, args.output_format)
    except (C1ZFormatError, OSError) as exc:
        print(f"baton-xmatters: error: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0
