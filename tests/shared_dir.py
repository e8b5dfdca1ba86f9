"""Where `../shared` is: beside the clone (CI, /work/main), or `$BATON_XMATTERS_SHARED` for a checkout
elsewhere (a git worktree). Read at import, before the autouse fixture clears `BATON_*` variables.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(
    os.environ.get("BATON_XMATTERS_SHARED") or Path(__file__).resolve().parents[1] / ".." / "shared"
)
