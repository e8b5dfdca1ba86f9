"""`imports_without_gc`: no collection inside; with `freeze_after`, nothing built inside is scanned after."""

from __future__ import annotations

import gc

from pipelines.import_gc import imports_without_gc


def test_what_is_built_inside_is_frozen_before_the_collector_runs_again() -> None:
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    frozen_before = gc.get_freeze_count()
    gc.callbacks.append(count)
    try:
        with imports_without_gc(freeze_after=True):
            built = [[index] for index in range(200_000)]  # 200,000 tracked objects, like an import
            assert passes == [] and not gc.isenabled()
        assert gc.isenabled()
        # frozen as the block ended: the next pass (the CLI's first after its imports) does not walk them
        assert gc.get_freeze_count() - frozen_before >= len(built)
        assert gc.get_count()[0] < 1_000
    finally:
        gc.callbacks.remove(count)
