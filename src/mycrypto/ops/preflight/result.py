"""One line of the go/no-go report, and the report: verdict, table, JSON and Markdown.

Every check ends in one of four states:
    GO        verified, fine
    NO-GO     verified, not fine (the reason says what was seen)
    NOT_RUN   could not be verified (no database access, not built yet, target not loopback...):
              counts as NO-GO, because launching needs every line proven
    SKIPPED   the operator said `--skip NAME`: does not count; the report still lists it
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

GO, NO_GO, NOT_RUN, SKIPPED = "GO", "NO-GO", "NOT_RUN", "SKIPPED"


@dataclass
class CheckResult:
    check: str            # the --skip name of the check that produced it
    item: str             # what this line is about (a check can produce several lines)
    status: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def blocks_launch(self) -> bool:
        return self.status in (NO_GO, NOT_RUN)


def go(check: str, item: str, reason: str, **details: Any) -> CheckResult:
    return CheckResult(check, item, GO, reason, details)


def no_go(check: str, item: str, reason: str, **details: Any) -> CheckResult:
    return CheckResult(check, item, NO_GO, reason, details)


def not_run(check: str, item: str, reason: str, **details: Any) -> CheckResult:
    return CheckResult(check, item, NOT_RUN, reason, details)


@dataclass
class PreflightReport:
    base_url: str
    results: list[CheckResult]
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return NO_GO if any(r.blocks_launch for r in self.results) else GO

    def counts(self) -> dict[str, int]:
        out = {GO: 0, NO_GO: 0, NOT_RUN: 0, SKIPPED: 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "verdict": self.verdict, "started_at": self.started_at.isoformat(),
                "seconds": round(self.seconds, 2), "counts": self.counts(),
                "results": [asdict(r) for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)

    def _summary(self) -> str:
        c = self.counts()
        return (f"VERDICT: {self.verdict}  ({c[GO]} GO, {c[NO_GO]} NO-GO, {c[NOT_RUN]} NOT_RUN, "
                f"{c[SKIPPED]} SKIPPED; NOT_RUN counts as NO-GO)")

    def render_table(self) -> str:
        """The terminal table: one line per item, the reason beside it."""
        w_check = max(len("check"), *(len(r.check) for r in self.results))
        w_item = max(len("item"), *(len(r.item) for r in self.results))
        w_status = max(len(s) for s in (GO, NO_GO, NOT_RUN, SKIPPED))
        lines = [f"preflight {self.base_url}  ({self.started_at:%Y-%m-%d %H:%M:%S} UTC, {self.seconds:.1f} s)", "",
                 f"{'check'.ljust(w_check)}  {'item'.ljust(w_item)}  {'result'.ljust(w_status)}  reason",
                 f"{'-' * w_check}  {'-' * w_item}  {'-' * w_status}  {'-' * 40}"]
        for r in self.results:
            lines.append(f"{r.check.ljust(w_check)}  {r.item.ljust(w_item)}  {r.status.ljust(w_status)}  {r.reason}")
        return "\n".join(lines + ["", self._summary()])

    def render_markdown(self) -> str:
        lines = [f"# Preflight: {self.verdict}", "",
                 f"Target `{self.base_url}`, {self.started_at:%Y-%m-%d %H:%M:%S} UTC, {self.seconds:.1f} s.", "",
                 self._summary(), "", "| check | item | result | reason |", "|---|---|---|---|"]
        for r in self.results:
            lines.append(f"| {r.check} | {r.item} | **{r.status}** | {r.reason.replace('|', '/')} |")
        return "\n".join(lines) + "\n"
