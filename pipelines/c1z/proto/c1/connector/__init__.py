"""Package path mirroring the protobuf package `c1.connector.v2` (see `pipelines.c1z.proto`)."""
