"""A worker child for tests/test_worker_protocol.py: echoes frames, logs, fails or dies on request.

python -m tests.worker_echo_child
"""

from __future__ import annotations

import logging
import os
import sys

from pipelines.worker_protocol import ParentLink


def main() -> None:
    link = ParentLink()
    link.forward_logs("echo", logging.INFO)
    while (request := link.receive()) is not None:
        if request.kind == "log":
            logging.getLogger("echo.child").warning("retrying %s", request.fields["what"])
            link.send("logged")
        elif request.kind == "fail":
            link.send("error", {"error": request.fields["error"], "message": request.fields["message"]})
        elif request.kind == "die":
            print("MemoryError: the child ran out of memory", file=sys.stderr, flush=True)
            os._exit(3)
        else:
            link.send(request.kind, request.fields, body=request.table)


if __name__ == "__main__":
    main()
