"""A worker child for tests/test_worker_protocol.py: echoes frames, logs, fails or dies on request.

python -m tests.worker_echo_child
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pipelines import frame_stack
from pipelines.worker_protocol import ParentLink, WorkerProcess


def ask(kind: str) -> dict[str, object]:
    """The fields of this worker's reply to one `kind` request, from a worker started for it."""
    worker = WorkerProcess("tests.worker_echo_child", "echo worker")
    try:
        worker.send(kind)
        return dict(worker.receive().fields)
    finally:
        worker.stop()


def main() -> None:
    link = ParentLink()
    link.forward_logs("echo", logging.INFO)
    while (request := link.receive()) is not None:
        if request.kind == "log":
            logging.getLogger("echo.child").warning("retrying %s", request.fields["what"])
            link.send("logged")
        elif request.kind == "fail":
            link.send("error", {"error": request.fields["error"], "message": request.fields["message"]})
        elif request.kind == "threads":  # numpy is loaded (pyarrow's): are OpenBLAS's threads there?
            link.send(
                "threads",
                {
                    "threads": threads_but_jemallocs(),
                    "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                },
            )
        elif request.kind == "on_one_chunk":  # is this module run from frame_stack's reserving frame?
            link.send("on_one_chunk", {"on_one_chunk": reserving_frame_below()})
        elif request.kind == "die":
            print("MemoryError: the child ran out of memory", file=sys.stderr, flush=True)
            os._exit(3)
        else:
            link.send(request.kind, request.fields, body=request.table)


def threads_but_jemallocs() -> int:
    """This process's threads but pyarrow's allocator's background thread: Python's and OpenBLAS's."""
    tasks = os.listdir("/proc/self/task")
    return sum(
        Path(f"/proc/self/task/{task}/comm").read_text().strip() != "jemalloc_bg_thd" for task in tasks
    )


def reserving_frame_below() -> bool:
    """Whether `pipelines.frame_stack.on_one_chunk`'s reserving frame is below this call."""
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code is frame_stack._call.__code__:
            return True
        frame = frame.f_back
    return False


if __name__ == "__main__":
    main()
