"""baton-sdk's own `.proto` files (v0.25.0, Apache-2.0, `LICENSE.baton-sdk`) and their generated code.

Layout: this directory is protoc's include root, with baton-sdk's layout (`c1/connector/v2/*.proto`,
`c1/connectorapi/baton/v1/baton.proto`) plus `validate/validate.proto` (protoc-gen-validate) and
`google/rpc/status.proto` (googleapis). Files register in the descriptor pool under those same
paths, so there is ONE set of `c1.connector.v2` messages: the `.c1z` code and the service-mode
gRPC client share it. The copies are byte-identical to upstream; add more upstream files here
(never hand-written ones) when a new message is needed.

The generated `*_pb2.py`/`.pyi`/`*_pb2_grpc.py` are committed; `make proto` regenerates them
(`regenerate.py` rewrites protoc's import lines to this package). `pb` is the short name the
rest of the package uses for the `.c1z` messages.
"""

from pipelines.c1z.proto import pb

__all__ = ["pb"]
