"""CI smoke test of the benchmark: the S scale runs end to end and every figure is filled in.

No timed assertions: the machine is shared, so seconds are reported by `make bench`, never asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.scripts import load_script

bench = load_script("run.py", "bench_run")


@pytest.mark.slow
def test_the_s_scale_completes_with_every_figure_present(tmp_path: Path) -> None:
    figures, downloaded = bench.measure_scale(bench.SCALES["S"], tmp_path)
    assert downloaded is None  # the download-only script runs only when asked (M and L)

    assert figures.exit_code == 0, "\n".join(figures.stderr_tail)
    assert figures.people == 1_000 and figures.groups == 100
    assert figures.memberships > 0 and figures.grants > 0
    assert figures.requests >= figures.groups  # one members call per group at least
    assert set(figures.stages) == set(bench.STAGES)
    for stage in ("startup", "extract", "normalize/load", "transforms", "checks", "c1z write"):
        assert figures.stages[stage] > 0, stage
    assert figures.wall_s > 0 and figures.dlt_extract_s > 0
    assert figures.peak_rss_bytes > 0 and figures.sync_cpu_s > 0
    assert figures.c1z_bytes > 0 and figures.bytes_per_grant > 0
    assert figures.simulator_cpu_s > 0

    results = bench.BenchResults(syncs=[figures], cpu_probes=[bench.cpu_probe(rounds=1), 0.25])
    report = bench.render_report(results)
    assert "| S | " in report
    assert "bytes per grant" in report.lower()
    probe = f"at the start and the end: {results.cpu_probes[0]:.3f} s and 0.250 s."
    assert probe in report.splitlines()[0]
    assert 0 < results.cpu_probes[0] < 60


def test_the_doc_keeps_hand_written_text_around_the_generated_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nWhere the time goes: by hand.\n", encoding="utf-8")

    bench.write_doc("first figures", doc)
    bench.write_doc("second figures", doc)

    text = doc.read_text(encoding="utf-8")
    assert "Where the time goes: by hand." in text
    assert "second figures" in text and "first figures" not in text
    assert text.count(bench.DOC_START) == 1 and text.count(bench.DOC_END) == 1


def _figures(
    scale: str, latency_ms: float, concurrency: int, wall_s: float, extract_s: float, requests: int = 10_150
) -> object:
    # One keyword per field, like the specs in tests/conftest.py (`duplicates` pairs their shapes):
    # an unrelated dataclass, spelled out so each figure's value is visible.
    stages = dict.fromkeys(bench.STAGES, 0.0)
    return bench.SyncFigures(
        scale=scale,
        latency_ms=latency_ms,
        concurrency=concurrency,
        wall_s=wall_s,
        stages=stages,
        dlt_extract_s=extract_s,
        people=0,
        groups=0,
        memberships=1,
        requests=requests,
        retries=0,
        grants=1,
        peak_rss_bytes=1,
        sync_cpu_s=1.0,
        c1z_bytes=1,
        simulator_cpu_s=0.0,
        exit_code=0,
    )


def test_the_report_compares_the_sync_with_the_download_only_script_and_the_bound() -> None:
    downloaded = bench.BaselineFigures("L", 20.0, 8, 40.0, 30.0, 10_150, 1_123_503, 0)
    results = bench.BenchResults(
        versus=[
            bench.Versus(downloaded, _figures("L", 20.0, 32, 36.0, 10.0)),
            bench.Versus(downloaded, _figures("L", 0.0, 32, 44.0, 9.0)),
        ],
        l_bound=_figures("L", 20.0, 8, 60.0, 26.0),  # bound 10,150 x 20 ms / 8 = 25.4 s
        sweep=[_figures("M", 100.0, c, 30.0, 2030 * 0.1 / c * 1.1, requests=2030) for c in (8, 16, 32)],
    )
    text = "\n".join(bench.render_versus(results))

    assert "| L | 20 ms | 32 | 36.0 | 40.0 | 0.90 | met |" in text
    assert "| L | 0 ms | 32 | 44.0 | 40.0 | 1.10 | NOT met |" in text
    assert (
        "26.0 s against the bound 10,150 requests x 20 ms / 8 = 25.4 s: 1.02x (target <= 1.05x: met)" in text
    )
    assert text.count("1.10x") == 3  # one sweep line per concurrency


def test_the_report_gives_issue_21s_fixed_cost_and_memory_targets() -> None:
    """`make bench` prints each of issue #21's targets with its verdict, not only the table."""
    small, medium, large = (
        _figures(name, 0.0, 32, wall, 1.0) for name, wall in (("S", 2.9), ("M", 5.2), ("L", 22.0))
    )
    large.peak_rss_bytes = 1025 * 1024**2  # type: ignore[attr-defined]
    medium.cgroup = object()  # type: ignore[attr-defined]
    unlimited = _figures("M", 0.0, 32, 4.9, 1.0)
    results = bench.BenchResults(syncs=[small, medium, large], m_unlimited=unlimited)
    text = "\n".join(bench.render_ratios(results))

    assert "- S wall 2.9 s (target <= 3 s: met)" in text
    assert "- M wall 5.2 s in the memory cgroup (target <= 20 s: met; at 0 ms <= 5 s: NOT met)" in text
    assert (
        "  - without the memory limit: 4.9 s, `.c1z` write 0.0 s against 0.0 s (at 0 ms <= 5 s: met)" in text
    )
    assert "- L process tree peak 1,025 MiB (target <= 1,024 MiB: NOT met)" in text
