"""The expectations worker defers GX's imports of modules the suites never use (`DEFERRED_MODULES`) and
finds GX's optional SQLAlchemy absent (`ABSENT_OPTIONAL_PACKAGES`).

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


def test_gx_is_prepared_without_executing_scipy_stats_altair_or_sqlalchemy():
    seen = _python(
        "import json, sys\n"
        "from expectations.worker import _prepare\n"
        "error = _prepare()\n"
        "print(json.dumps({'error': error, 'suites': 'great_expectations' in sys.modules,\n"
        "                  'stats_executed': 'scipy.stats._stats_py' in sys.modules,\n"
        "                  'altair_executed': 'altair.vegalite' in sys.modules,\n"
        "                  'sqlalchemy': [m for m in sys.modules if m.startswith('sqlalchemy.')]}))\n"
    )
    assert seen == {
        "error": None,
        "suites": True,
        "stats_executed": False,
        "altair_executed": False,
        "sqlalchemy": [],
    }


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


def test_a_deferred_module_imported_plainly_is_whole_at_its_first_use():
    """`import altair as alt` (GX's KL-divergence expectation) binds a lazy module; `alt.Chart` runs it."""
    seen = _python(
        "import json, sys\n"
        "from expectations.worker import defer_until_used\n"
        "defer_until_used(('altair',))\n"
        "import altair as alt\n"
        "before = 'altair.vegalite' in sys.modules\n"
        "chart = alt.Chart({'values': [{'x': 1}]}).mark_point().encode(x='x:Q').to_dict()\n"
        "print(json.dumps({'before': before, 'after': 'altair.vegalite' in sys.modules,\n"
        "                  'mark': chart['mark']}))\n"
    )
    assert seen == {"before": False, "after": True, "mark": {"type": "point"}}


def test_an_absent_optional_package_fails_its_import_as_if_not_installed():
    seen = _python(
        "import json\n"
        "from expectations.worker import without_optional_packages\n"
        "without_optional_packages(('sqlalchemy',))\n"
        "from great_expectations.compatibility import sqlalchemy\n"
        "try:\n"
        "    import sqlalchemy.engine\n"
        "    failed = None\n"
        "except ImportError as exc:\n"
        "    failed = type(exc).__name__\n"
        "print(json.dumps({'gx_sees': type(sqlalchemy.sqlalchemy).__name__, 'import': failed}))\n"
    )
    assert seen == {"gx_sees": "NotImported", "import": "ModuleNotFoundError"}
