"""The expectations worker defers GX's imports of modules the suites never use (`DEFERRED_SUBMODULES`).

Each case runs in a fresh interpreter: this test process may have imported them already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gx_is_prepared_without_executing_scipy_stats():
    seen = _python(
        "import json, sys\n"
        "from expectations.worker import _prepare\n"
        "error = _prepare()\n"
        "print(json.dumps({'error': error, 'suites': 'great_expectations' in sys.modules,\n"
        "                  'stats_executed': 'scipy.stats._stats_py' in sys.modules}))\n"
    )
    assert seen == {"error": None, "suites": True, "stats_executed": False}


def test_a_deferred_submodule_is_whole_at_its_first_use():
    seen = _python(
        "import json, sys\n"
        "from expectations.worker import defer_until_used\n"
        "defer_until_used(('scipy.stats', 'no_such_package_here.sub'))\n"
        "before = 'scipy.stats._stats_py' in sys.modules\n"
        "from scipy import stats\n"
        "entropy = float(stats.entropy([1, 1], [1, 3]))\n"
        "print(json.dumps({'before': before, 'after': 'scipy.stats._stats_py' in sys.modules,\n"
        "                  'entropy': round(entropy, 6)}))\n"
    )
    assert seen == {"before": False, "after": True, "entropy": 0.143841}
