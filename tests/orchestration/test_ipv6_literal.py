"""A sync from a simulator on the IPv6 loopback, by an IPv6 literal base URL (`http://[::1]:port`).

`simulate --host ::1` failed (`cannot listen on ::1:...: Address family for hostname not
supported`): the server opened an IPv4 socket whatever the host; so the sync's handling of
`--base-url http://[::1]:<port>/api/xm/1` (plain http allowed to a loopback literal, the
brackets kept in every URL it requests) could not be tried by hand or by a test.
"""

from __future__ import annotations

import socket

import pytest

from orchestration.cli import main
from simulator import XmattersSimulator
from tests.orchestration.conftest import read_sync
from tests.orchestration.test_sync_cli import sync_args


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_a_sync_by_an_ipv6_literal(org, data_home, tmp_path, capsys):
    sync_file = tmp_path / "sync.c1z"
    with XmattersSimulator(org, host="::1") as sim:
        base_url = f"http://[::1]:{sim.port}/api/xm/1"
        assert sim.base_url == base_url
        assert main(sync_args(sim, sync_file)) == 0
    assert f"Synced {base_url} in " in capsys.readouterr().out
    assert read_sync(sync_file).users == {p["id"] for p in org.all_people}
