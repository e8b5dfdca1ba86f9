"""Our `.proto` definitions of the `c1.connector.v2` messages and their committed generated code.

Layout: the source is `proto/c1/connector/v2/c1z.proto` so that protoc (run with `-Ipipelines/c1z/proto`,
see `make proto`) registers it under the same file path and package as baton-sdk's. All messages live
in that ONE file on purpose: protoc then emits only `google.protobuf` imports, never
`from c1.connector.v2 import ...`, so the generated module imports cleanly as
`pipelines.c1z.proto.c1.connector.v2.c1z_pb2` without touching `sys.path`.

The generated `c1z_pb2.py`/`.pyi` are committed (regenerate with `make proto` after editing the .proto);
`pb` below is the short name the rest of the package uses.
"""

from pipelines.c1z.proto.c1.connector.v2 import c1z_pb2 as pb

__all__ = ["pb"]
