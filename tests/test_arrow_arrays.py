"""Arrays built from buffers equal what `pa.array` builds, and building them imports no pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from pipelines.arrow_arrays import byte_lengths, int32_values, repeated_strings, string_array, true_array


@pytest.mark.parametrize(
    "runs",
    [
        [],
        [("g-1", 3)],
        [("g-1", 2), ("Ops «on-call» 東京", 1), ("", 2), ("g-1", 1)],
        [("x", 0), ("y", 2)],
    ],
    ids=["empty", "one-run", "unicode-and-empty", "zero-count"],
)
def test_repeated_strings_equal_pa_array(runs):
    expected = pa.array([value for value, count in runs for _ in range(count)], type=pa.string())
    built = repeated_strings(runs)
    assert built.type == pa.string()
    assert built.equals(expected)


def test_string_array_and_true_array():
    assert string_array(["b", "a", "b"]).to_pylist() == ["b", "a", "b"]
    assert true_array().to_pylist() == [True]


def test_int32_values_reads_chunked_and_sliced_arrays():
    chunked = pa.chunked_array([pa.array([1, 2, 3], pa.int32()), pa.array([4], pa.int32())])
    assert int32_values(chunked).tolist() == [1, 2, 3, 4]
    assert int32_values(pa.array([5, 6, 7], pa.int32()).slice(1)).tolist() == [6, 7]
    assert int32_values(pa.array([], pa.int32())).dtype == np.int32
    with pytest.raises(ValueError, match="1 nulls"):
        int32_values(pa.array([1, None], pa.int32()))
    with pytest.raises(ValueError, match="int64"):
        int32_values(pa.array([1], pa.int64()))


def test_byte_lengths_are_utf8_bytes_with_null_as_zero():
    values = ["abc", None, "", "é€", None, "x" * 70]
    for kind in (pa.string(), pa.large_string()):
        array = pa.array(values, kind)
        expected = [len((v or "").encode()) for v in values]
        assert byte_lengths(array).tolist() == expected
        assert byte_lengths(array.slice(1, 4)).tolist() == expected[1:5]
        chunked = pa.chunked_array([array.slice(0, 2), array.slice(3)])
        assert byte_lengths(chunked).tolist() == expected[:2] + expected[3:]
    assert byte_lengths(pa.chunked_array([], pa.string())).dtype == np.int64


def test_building_them_does_not_import_pandas():
    script = """
import sys
import pyarrow as pa
from pipelines.arrow_arrays import byte_lengths, int32_values, repeated_strings, string_array, true_array
repeated_strings([("a", 2)]); string_array(["a"]); true_array()
int32_values(pa.chunked_array([], pa.int32()))
offsets = pa.py_buffer(b"".join(n.to_bytes(4, "little") for n in (0, 3, 3, 5)))
validity = pa.py_buffer(bytes([0b101]))
with_null = pa.StringArray.from_buffers(3, offsets, pa.py_buffer(b"abcde"), validity)
assert byte_lengths(pa.chunked_array([with_null, with_null.slice(1)])).tolist() == [3, 0, 2, 0, 2]
print("pandas" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
