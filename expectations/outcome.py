"""What a suite run found, as plain data: the same in the worker process and in the sync's process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_EXAMPLES = 5  # unexpected values kept per failed expectation (runner.py)


@dataclass(frozen=True)
class ExpectationFailure:
    expectation: str
    column: str
    unexpected_count: int
    examples: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    evaluated: int
    failures: list[ExpectationFailure]

    def describe(self) -> str:
        if self.success:
            return f"{self.suite}: {self.evaluated} expectations passed"
        parts = [f"{f.expectation}({f.column}) x{f.unexpected_count}" for f in self.failures]
        return f"{self.suite}: failed " + ", ".join(parts)

    @classmethod
    def combined(cls, outcomes: list[SuiteOutcome]) -> SuiteOutcome:
        """One outcome of a suite validated in parts (column groups): every part's expectations."""
        return cls(
            suite=outcomes[0].suite,
            success=all(outcome.success for outcome in outcomes),
            evaluated=sum(outcome.evaluated for outcome in outcomes),
            failures=[failure for outcome in outcomes for failure in outcome.failures],
        )

    @classmethod
    def of_partitions(cls, outcomes: list[SuiteOutcome]) -> SuiteOutcome:
        """One outcome of the same expectations validated over disjoint parts of a table's rows:
        an expectation failed if it failed in any part, its unexpected rows added up, its first
        examples kept (at most five, as one part gives)."""
        failures: dict[tuple[str, str], ExpectationFailure] = {}
        for outcome in outcomes:
            for failure in outcome.failures:
                seen = failures.get((failure.expectation, failure.column))
                if seen is None:
                    failures[(failure.expectation, failure.column)] = failure
                else:
                    failures[(failure.expectation, failure.column)] = ExpectationFailure(
                        failure.expectation,
                        failure.column,
                        seen.unexpected_count + failure.unexpected_count,
                        (seen.examples + failure.examples)[:MAX_EXAMPLES],
                    )
        return cls(
            suite=outcomes[0].suite,
            success=all(outcome.success for outcome in outcomes),
            evaluated=outcomes[0].evaluated,
            failures=list(failures.values()),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteOutcome:
        """The inverse of `dataclasses.asdict`, for an outcome that crossed the worker's pipe."""
        return cls(
            suite=data["suite"],
            success=data["success"],
            evaluated=data["evaluated"],
            failures=[ExpectationFailure(**failure) for failure in data["failures"]],
        )
