"""`bench/ab_pairs.py --memory-limit`: a bad size is refused before any simulator or sync starts."""

from __future__ import annotations

import pytest

from bench import ab_pairs


def test_a_memory_limit_that_is_not_a_size_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        ab_pairs.main(["--tree", ".", "--tree", ".", "--memory-limit", "lots"])
    assert exit_info.value.code == 2
    assert "--memory-limit: not a size: 'lots' (e.g. 900m, 1g)" in capsys.readouterr().err
