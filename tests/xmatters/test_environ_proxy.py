"""`client.environ_proxy`: requests' proxy choice, without importing requests when no variable names one.

The member-call process imports the client to build its transport and needs requests for nothing
else; the import was ~0.1 CPU-s of that process (docs/benchmarks.md, twenty-eighth round).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests.utils

from pipelines.xmatters.client import environ_proxy

ROOT = Path(__file__).resolve().parents[2]


def test_the_member_call_process_builds_its_transport_without_importing_requests():
    env = {name: value for name, value in os.environ.items() if not name.lower().endswith("_proxy")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys\n"
            "import pipelines.xmatters.member_worker\n"
            "from pipelines.xmatters.client import _transport\n"
            "transport = _transport('http://127.0.0.1:9/api/xm/1', None, 8, 5.0, 1 << 20)\n"
            "print(json.dumps([type(transport).__name__, 'requests' in sys.modules]))\n",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["DirectConnections", False]


PROXY = "http://127.0.0.1:3128"


HTTPS_URL = "https://example.xmatters.com/api/xm/1"


@pytest.mark.parametrize(
    ("variables", "url", "proxy"),
    [
        ({}, HTTPS_URL, None),
        ({"HTTPS_PROXY": PROXY}, HTTPS_URL, PROXY),
        ({"https_proxy": PROXY}, HTTPS_URL, PROXY),
        ({"HTTP_PROXY": PROXY}, HTTPS_URL, None),
        ({"HTTP_PROXY": PROXY}, "http://127.0.0.1:8080/api/xm/1", PROXY),
        ({"ALL_PROXY": PROXY}, HTTPS_URL, PROXY),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "xmatters.com"}, HTTPS_URL, None),
        ({"HTTPS_PROXY": PROXY, "no_proxy": "*"}, HTTPS_URL, None),
        ({"HTTPS_PROXY": ""}, HTTPS_URL, None),
        ({"HTTP_PROXY": PROXY, "REQUEST_METHOD": "GET"}, "http://example.xmatters.com/api/xm/1", None),
        ({"NO_PROXY": "example.xmatters.com"}, HTTPS_URL, None),
    ],
)
def test_the_proxy_is_the_one_requests_would_choose(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], url: str, proxy: str | None
):
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url)) == proxy
    assert environ_proxy(url) == proxy
