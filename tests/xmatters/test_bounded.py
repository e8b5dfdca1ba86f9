"""`bounded.py`: incremental decoding under a size limit, and the deadline watchdog."""

from __future__ import annotations

import gzip
import socket
import time
import zlib

import pytest

from pipelines.xmatters.bounded import BoundedBody, TooLarge, Watchdog, check_declared_length

PAGE = b'{"count":1,"data":[{"id":"p1"}],"links":{}}' * 200


def _decode(encoding: str | None, data: bytes, limit: int = 2**20, step: int = 7) -> bytes:
    body = BoundedBody(encoding, limit)
    for start in range(0, len(data), step):
        body.feed(data[start : start + step])
    return body.finish()


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        (None, PAGE),
        ("gzip", gzip.compress(PAGE)),
        ("x-gzip", gzip.compress(PAGE)),
        ("deflate", zlib.compress(PAGE)),
        ("deflate", _raw_deflate(PAGE)),
    ],
)
@pytest.mark.parametrize("step", [1, 7, 65536])
def test_bodies_decode_as_whole_reads_did(encoding, encoded, step):
    assert _decode(encoding, encoded, step=step) == PAGE


def test_a_gzip_body_of_several_members_is_read_whole():
    assert _decode("gzip", gzip.compress(PAGE) + gzip.compress(PAGE)) == PAGE + PAGE


def test_an_empty_body_is_empty():
    assert _decode("gzip", b"") == b""


@pytest.mark.parametrize(
    ("encoding", "bomb"),
    [
        ("gzip", gzip.compress(b" " * 64 * 2**20)),
        ("deflate", zlib.compress(b" " * 64 * 2**20)),
        ("deflate", _raw_deflate(b" " * 64 * 2**20)),
        (None, b" " * 3 * 2**20),
    ],
)
def test_a_body_past_the_limit_is_refused_having_inflated_at_most_one_chunk_more(encoding, bomb):
    body = BoundedBody(encoding, 2**20)
    with pytest.raises(TooLarge):
        for start in range(0, len(bomb), 65536):
            body.feed(bomb[start : start + 65536])
    assert sum(len(part) for part in body._parts) <= 2**20


def test_a_truncated_compressed_body_is_an_error():
    with pytest.raises(zlib.error):
        _decode("gzip", gzip.compress(PAGE)[:-12])


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    check_declared_length("100", 100)
    check_declared_length(None, 100)
    check_declared_length("garbage", 100)
    with pytest.raises(TooLarge) as caught:
        check_declared_length("101", 100)
    assert caught.value.declared == 101


def test_the_watchdog_shuts_a_socket_at_its_deadline_and_not_a_released_one():
    watchdog = Watchdog()
    late, late_peer = socket.socketpair()
    released, released_peer = socket.socketpair()
    try:
        token = watchdog.watch(released, time.monotonic() + 0.2)
        watchdog.watch(late, time.monotonic() + 0.2)
        watchdog.release(token)
        late.settimeout(3)
        started = time.monotonic()
        assert late.recv(1) == b""  # blocks until the watchdog shuts it
        assert 0.1 < time.monotonic() - started < 2
        released_peer.sendall(b"x")
        assert released.recv(1) == b"x"  # still open
    finally:
        watchdog.close()
        for sock in (late, late_peer, released, released_peer):
            sock.close()


def test_a_closed_watchdog_watches_again_when_used_again():
    watchdog = Watchdog()
    watchdog.close()
    sock, peer = socket.socketpair()
    try:
        sock.settimeout(3)  # not shut down: TimeoutError, not a hang
        watchdog.watch(sock, time.monotonic() + 0.1)
        assert sock.recv(1) == b""
    finally:
        watchdog.close()
        sock.close()
        peer.close()
