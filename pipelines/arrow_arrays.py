"""Arrow arrays built from their buffers, not with `pa.array` or `pa.scalar` over Python values.

pyarrow imports pandas on its first `pa.array` or `pa.scalar` call (to check for pandas inputs; a
Python value given to a compute function takes that path too):
~0.5 s of the GIL and ~60 MB that the sync process has no other use for (only the expectations
worker validates DataFrames). These build the same arrays from one join of the encoded values and
their cumulated lengths as offsets: no pandas, and no Python step per row of a repeated value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def repeated_strings(runs: list[tuple[str, int]]) -> pa.StringArray:
    """Each run's value `count` times, the runs in order: e.g. a group's id once per member."""
    encoded = [value.encode() for value, _ in runs]
    counts = np.fromiter((count for _, count in runs), dtype=np.int64, count=len(runs))
    lengths = np.repeat(np.fromiter(map(len, encoded), dtype=np.int64, count=len(runs)), counts)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = b"".join(value * int(count) for value, count in zip(encoded, counts, strict=True))
    large = pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))
    return large.cast(pa.string())  # 64-bit offsets first: the cast refuses what 32 bits cannot hold


def string_array(values: list[str]) -> pa.StringArray:
    """`pa.array(values, type=pa.string())` for values that are all strings."""
    return repeated_strings([(value, 1) for value in values])


def true_array() -> pa.BooleanArray:
    """`[True]`, e.g. the value set of `pc.is_in` for "is true" (false for false and for null)."""
    return pa.BooleanArray.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(b"\x01")])


def int32_values(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a null-free int32 array as NumPy (`to_numpy` would import pandas)."""
    if isinstance(array, pa.ChunkedArray):
        if array.num_chunks == 0:  # combine_chunks() of no chunks builds its result with `pa.array`
            return np.empty(0, dtype=np.int32)
        array = array.combine_chunks()
    if array.type != pa.int32() or array.null_count:
        raise ValueError(
            f"expected int32 values without nulls, got {array.type} with {array.null_count} nulls"
        )
    return np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array), offset=array.offset * 4)


def byte_lengths(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Bytes of each value of a string or large_string column, 0 for a null, as NumPy int64
    (from the offsets: `pc.fill_null(..., 0)` makes a scalar and `to_numpy` of an array with
    nulls converts through pandas, either importing it)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [np.zeros(0, dtype=np.int64)]
    for chunk in chunks:
        offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(
            chunk.buffers()[1],
            dtype=offset_type,
            count=len(chunk) + 1,
            offset=chunk.offset * np.dtype(offset_type).itemsize,
        )
        lengths = np.diff(offsets).astype(np.int64)
        if chunk.null_count:
            bits = np.frombuffer(chunk.buffers()[0], dtype=np.uint8)
            valid = np.unpackbits(bits, bitorder="little", count=chunk.offset + len(chunk))[chunk.offset :]
            lengths[valid == 0] = 0
        parts.append(lengths)
    return np.concatenate(parts)
