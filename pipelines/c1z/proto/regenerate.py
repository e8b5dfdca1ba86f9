"""Regenerate the committed protobuf/gRPC code from baton-sdk's `.proto` files (`make proto`).

Why a script and not one protoc line: protoc's Python plugin writes absolute imports rooted at the
include directory (`from c1.connector.v2 import resource_pb2`), which would need this directory on
`sys.path`. The files are registered in the descriptor pool under baton-sdk's own paths
(`c1/connector/v2/resource.proto`, ...) either way; only the Python import lines are rewritten
here so that the modules import as `pipelines.c1z.proto.c1.connector.v2.resource_pb2`.

Run as a script (`python pipelines/c1z/proto/regenerate.py`), not as a module: importing the
package would import the generated code it is about to rewrite.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent
PACKAGE = "pipelines.c1z.proto"
# Top-level proto packages that live under ROOT (google.protobuf comes from the protobuf wheel).
LOCAL = ("c1", "validate", "google.rpc")
_IMPORT = re.compile(r"^(from|import) (c1|validate|google\.rpc)([\w.]*)(.*)$", re.MULTILINE)


def proto_files() -> list[str]:
    """Every `.proto` under ROOT, relative to it (the include root)."""
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.proto"))


def _rewrite(text: str) -> str:
    return _IMPORT.sub(lambda m: f"{m.group(1)} {PACKAGE}.{m.group(2)}{m.group(3)}{m.group(4)}", text)


def main() -> int:
    import grpc_tools

    bundled = str(Path(grpc_tools.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{bundled}",
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        *proto_files(),
    ]
    if protoc.main(args) != 0:
        print("regenerate: protoc failed", file=sys.stderr)
        return 1
    for generated in [*ROOT.rglob("*_pb2.py"), *ROOT.rglob("*_pb2.pyi"), *ROOT.rglob("*_pb2_grpc.py")]:
        generated.write_text(_rewrite(generated.read_text()))
    for directory in {p.parent for p in ROOT.rglob("*_pb2.py")}:
        init = directory / "__init__.py"
        while directory != ROOT and not init.exists():
            init.write_text("")
            directory = directory.parent
            init = directory / "__init__.py"
    # gRPC stubs only for the service the project calls (BatonService in baton.proto): the
    # connector services of c1/connector/v2 are for connectors that serve gRPC, which this one
    # does not, and protoc writes an empty stub for every other file.
    service_dir = ROOT / "c1" / "connectorapi"
    for stub in ROOT.rglob("*_pb2_grpc.py"):
        if service_dir not in stub.parents:
            stub.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
