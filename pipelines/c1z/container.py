"""The v1 container: `C1ZF\\x00` followed by one zstd frame holding a SQLite database file.

Compression streams file to file (constant memory). Decompression is defensive because a `.c1z` may
come from anywhere: the window size is checked before any decoding, and the decoded size is capped
while streaming to a temporary file, so a decompression bomb costs at most the cap in disk, never RAM.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

import zstandard

from pipelines.c1z.errors import C1ZFormatError

log = logging.getLogger(__name__)

V1_MAGIC = b"C1ZF\x00"
V3_MAGIC = b"C1Z3\x00"
WINDOW_LOG = 23  # 8 MiB, as baton-sdk writes
MAX_WINDOW_BYTES = 128 * 1024 * 1024
DEFAULT_MAX_DECODED_BYTES = 3 * 1024**3
_CHUNK = 1024 * 1024


def compress_database(database: Path, out: BinaryIO) -> None:
    """Write magic + one zstd frame (level 1, 8 MiB window, checksum, content size) of `database`."""
    size = database.stat().st_size
    params = zstandard.ZstdCompressionParameters.from_level(
        1,
        source_size=size,
        window_log=WINDOW_LOG,
        write_checksum=True,
        write_content_size=True,
        threads=min(os.cpu_count() or 1, 4),
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    out.write(V1_MAGIC)
    with database.open("rb") as source:
        compressor.copy_stream(source, out, size=size, read_size=_CHUNK, write_size=_CHUNK)


def decompress_to_file(
    source: Path, target: BinaryIO, *, max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES
) -> int:
    """Check the container and stream its database into `target`; returns the decoded size."""
    with source.open("rb") as stream:
        magic = stream.read(len(V1_MAGIC))
        if magic == V3_MAGIC:
            raise C1ZFormatError(f"{source}: v3 c1z container (C1Z3) is not supported yet; only v1 (C1ZF)")
        if magic != V1_MAGIC:
            raise C1ZFormatError(f"{source}: not a c1z file (bad magic {magic!r})")
        header = stream.read(18)
        try:
            frame = zstandard.get_frame_parameters(header)
        except zstandard.ZstdError as exc:
            raise C1ZFormatError(f"{source}: corrupt zstd frame header ({exc})") from None
        if frame.window_size > MAX_WINDOW_BYTES:
            raise C1ZFormatError(
                f"{source}: zstd window of {frame.window_size} bytes exceeds the {MAX_WINDOW_BYTES} limit"
            )
        if frame.content_size != zstandard.CONTENTSIZE_UNKNOWN and frame.content_size > max_decoded_bytes:
            raise C1ZFormatError(
                f"{source}: declared decoded size {frame.content_size} exceeds the {max_decoded_bytes} limit"
            )
        stream.seek(len(V1_MAGIC))
        decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_BYTES)
        written = 0
        try:
            with decompressor.stream_reader(stream, read_size=_CHUNK) as reader:
                while chunk := reader.read(_CHUNK):
                    written += len(chunk)
                    if written > max_decoded_bytes:
                        raise C1ZFormatError(
                            f"{source}: decoded size exceeds the {max_decoded_bytes} byte limit "
                            "(decompression bomb?)"
                        )
                    target.write(chunk)
        except zstandard.ZstdError as exc:
            raise C1ZFormatError(f"{source}: corrupt zstd data ({exc})") from None
    log.debug("decompressed %s: %d bytes", source, written)
    return written
