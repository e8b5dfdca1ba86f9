"""One OpenBLAS thread per process: numpy's bundled OpenBLAS otherwise starts one per core.

Those threads busy-wait for work after numpy's import (~2% of a sync's CPU samples, in the main
process and in the expectations worker, on a 2-core machine) although nothing here does linear
algebra. OpenBLAS reads the variable once, when numpy loads it: it must be in the environment before
the first `import numpy` (pyarrow's, dagster's, GX's) of each process. A user's own value wins.
"""

from __future__ import annotations

from collections.abc import MutableMapping

DEFAULTS: dict[str, str] = {"OPENBLAS_NUM_THREADS": "1"}


def with_one_blas_thread(environ: MutableMapping[str, str]) -> None:
    """Sets `DEFAULTS` in `environ` (`os.environ` for this process, a child's copy) where unset."""
    for name, value in DEFAULTS.items():
        environ.setdefault(name, value)
