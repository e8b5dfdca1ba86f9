"""The Hello request: who this connector is, what it can do, where it runs (baton-sdk's hello.go)."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib import metadata

from pipelines.c1z import encode
from pipelines.c1z.proto.c1.connector.v2 import connector_pb2 as connector
from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton

PACKAGE = "baton-xmatters"
DISPLAY_NAME = "xMatters"
DESCRIPTION = "xMatters people, groups and group memberships (read-only), synced by baton-xmatters"


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "0.0.0"


def connector_metadata() -> connector.ConnectorMetadata:
    """Sync-only capabilities, one entry per resource type sorted by id (as connectorbuilder.go)."""
    sync = connector.CAPABILITY_SYNC
    return connector.ConnectorMetadata(
        display_name=DISPLAY_NAME,
        description=DESCRIPTION,
        capabilities=connector.ConnectorCapabilities(
            resource_type_capabilities=[
                connector.ResourceTypeCapability(
                    resource_type=encode.resource_type_message(type_id), capabilities=[sync]
                )
                for type_id in sorted((encode.USER_TYPE, encode.GROUP_TYPE))
            ],
            connector_capabilities=[sync],
        ),
    )


def hello_request(host_id: str, task_id: str = "") -> baton.BatonServiceHelloRequest:
    uname = platform.uname()
    release = _os_release()
    return baton.BatonServiceHelloRequest(
        host_id=host_id,
        task_id=task_id,
        build_info=baton.BatonServiceHelloRequest.BuildInfo(
            lang_version=f"python{platform.python_version()}",
            package=PACKAGE,
            package_version=package_version(),
        ),
        os_info=baton.BatonServiceHelloRequest.OSInfo(
            hostname=socket.gethostname() or "unknown",
            os=sys.platform,
            platform=release.get("ID", uname.system.lower() or "unknown"),
            platform_family=release.get("ID_LIKE", release.get("ID", uname.system.lower() or "unknown")),
            platform_version=release.get("VERSION_ID", uname.release or "unknown"),
            kernel_version=uname.release or "unknown",
            kernel_arch=uname.machine or "unknown",
            virtualization_system=_virtualization(),
        ),
        connector_metadata=connector_metadata(),
    )


def default_host_id() -> str:
    """baton-sdk: `BATON_HOST_ID`, else the hostname, else `baton-sdk` (ours: `baton-xmatters`)."""
    return socket.gethostname() or PACKAGE


def _os_release() -> dict[str, str]:
    try:
        return {k: v.strip('"') for k, v in platform.freedesktop_os_release().items()}
    except OSError:
        return {}


def _virtualization() -> str:
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return "container"
    return "none"
