"""The worker processes' one framing: round trips, error frames, logs, dead children, cut streams."""

from __future__ import annotations

import io
import logging

import pyarrow as pa
import pytest

from pipelines.worker_protocol import Frame, FrameError, WorkerDied, WorkerProcess, read_frame, write_frame
from pipelines.xmatters.errors import AuthError, NotFoundError, XmattersError
from pipelines.xmatters.member_calls import ERROR_CLASSES

TABLE = pa.table({"id": ["a", "b", "c"], "n": [1, 2, None]})


def _framed(*frames: tuple[str, dict, pa.Table | None]) -> bytes:
    out = io.BytesIO()
    for kind, fields, body in frames:
        write_frame(out, kind, fields, body)
    return out.getvalue()


def test_frames_with_and_without_a_table_round_trip_in_order():
    data = _framed(
        ("done", {"counts": [3, 1, 0]}, None), ("table", {}, TABLE), ("skipped", {"group": ["g"]}, None)
    )
    stream = io.BytesIO(data)
    first, second, third = read_frame(stream), read_frame(stream), read_frame(stream)
    assert first == Frame("done", {"counts": [3, 1, 0]}, None)
    assert second is not None and second.kind == "table" and second.table is not None
    assert second.table.equals(TABLE)
    assert third == Frame("skipped", {"group": ["g"]}, None)
    assert read_frame(stream) is None  # a clean end between frames


def test_a_streamed_reader_arrives_as_one_table_and_its_rows_are_counted():
    reader = pa.RecordBatchReader.from_batches(TABLE.schema, TABLE.to_batches(max_chunksize=1))
    out = io.BytesIO()
    assert write_frame(out, "validate", {"table": "users"}, reader) == 3
    frame = read_frame(io.BytesIO(out.getvalue()))
    assert frame is not None and frame.fields == {"table": "users"}
    assert frame.table is not None and frame.table.to_pylist() == TABLE.to_pylist()


@pytest.mark.parametrize("cut", [2, 4, 10, -12], ids=["length", "header-length", "header", "table"])
def test_a_cut_frame_is_an_error_not_a_short_frame(cut):
    data = _framed(("table", {"k": "v"}, TABLE))
    with pytest.raises(FrameError, match="ended inside"):
        read_frame(io.BytesIO(data[:cut]))


def test_an_unreadable_header_is_an_error():
    header = b"not json"
    with pytest.raises(FrameError, match="unreadable frame header"):
        read_frame(io.BytesIO(len(header).to_bytes(4, "little") + header))


def test_an_error_frame_is_raised_as_the_class_it_names_with_its_message_as_sent():
    frame = Frame("error", {"error": "AuthError", "message": "xmatters: HTTP 401 from https://x/api"})
    error = frame.error(ERROR_CLASSES, RuntimeError)
    assert (
        type(error) is AuthError and str(error) == "xmatters: HTTP 401 from https://x/api"
    )  # not prefixed twice
    unknown = Frame("error", {"error": "SystemExit", "message": "boom"}).error(ERROR_CLASSES, RuntimeError)
    assert type(unknown) is RuntimeError and str(unknown) == "boom"  # only the table's classes are made


@pytest.fixture
def echo():
    worker = WorkerProcess("tests.worker_echo_child", "echo worker")
    yield worker
    worker.stop()


def test_a_child_echoes_a_table_and_forwards_its_log_records(echo, caplog):
    echo.send("table", {"n": 1}, body=TABLE)
    reply = echo.receive()
    assert reply.kind == "table" and reply.fields == {"n": 1}
    assert reply.table is not None and reply.table.equals(TABLE)
    with caplog.at_level(logging.INFO, logger="echo"):
        echo.send("log", {"what": "page 2"})
        assert echo.receive().kind == "logged"  # the log frame before it was logged, not returned
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("echo.child", logging.WARNING, "retrying page 2")
    ]


def test_a_childs_error_frame_comes_back_as_its_class(echo):
    echo.send("fail", {"error": "NotFoundError", "message": "xmatters: HTTP 404 from https://x/groups/g1"})
    error = echo.receive().error(ERROR_CLASSES, RuntimeError)
    assert isinstance(error, NotFoundError) and isinstance(error, XmattersError)
    assert str(error) == "xmatters: HTTP 404 from https://x/groups/g1"
    echo.send("ping")
    assert echo.receive().kind == "ping"  # an error frame leaves the stream in step


def test_a_dead_child_is_named_with_its_exit_code_and_last_line(echo):
    echo.send("die")
    with pytest.raises(WorkerDied) as raised:
        echo.receive(doing="echoing")
    assert str(raised.value) == (
        f"the echo worker (pid {echo.pid}) exited with code 3 while echoing: "
        "MemoryError: the child ran out of memory"
    )
    with pytest.raises(WorkerDied, match=r"exited with code 3"):
        for _ in range(100):  # the pipe may take a few writes to report the dead reader
            echo.send("ping", body=TABLE)


def test_a_child_that_cannot_start_is_named_with_the_cause():
    worker = WorkerProcess("tests.no_such_worker_module", "missing worker")
    try:
        with pytest.raises(
            WorkerDied, match=r"exited with code 1: .*No module named tests.no_such_worker_module"
        ):
            worker.receive()
    finally:
        worker.stop()


def test_a_table_larger_than_a_pipe_buffer_arrives_whole(echo):
    big = pa.table({"id": [f"member-{i}" for i in range(200_000)], "n": list(range(200_000))})
    echo.send("table", body=big)  # the child echoes while it reads: the pipe holds 64 KiB
    reply = echo.receive()
    assert reply.table is not None and reply.table.equals(big)
