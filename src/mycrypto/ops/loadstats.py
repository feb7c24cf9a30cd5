"""Summaries of a load run: throughput, error rate, p50/p95/p99 per endpoint and over time.

Input is a list of samples `(end_s, label, status, latency_ms)`: when the answer came (seconds since
the measured window opened), which endpoint, the HTTP status (0 = no answer: connection error or
timeout) and the latency. Both load drivers produce them (ops/loadgen.py; the Locust scenarios in
bench/load record the same tuples), so one summary format feeds the JSON reports, the charts and
`mycrypto preflight`'s SLA check.

Percentiles are nearest-rank over every sample (no histogram approximation). A sample is an error
when it got no answer or a status >= 400 that the driver did not expect (drivers pass `ok=` when a
4xx is an expected outcome, e.g. cancelling an order that was filled meanwhile).
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

Sample = tuple[float, str, int, float]   # end_s, label, status, latency_ms
PERCENTILES = (50, 95, 99)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(len(sorted_values), rank) - 1]


def is_error(status: int) -> bool:
    return status == 0 or status >= 400


def _latency_block(latencies: list[float]) -> dict[str, float | None]:
    xs = sorted(x for x in latencies if not math.isnan(x))
    out: dict[str, float | None] = {f"p{p}_ms": _r(percentile(xs, p)) for p in PERCENTILES}
    out["mean_ms"] = _r(sum(xs) / len(xs)) if xs else None
    out["max_ms"] = _r(xs[-1]) if xs else None
    return out


def _r(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(x, 2)


def summarize(samples: Iterable[Sample], duration_s: float, *, window_s: float = 1.0,
              errors: Iterable[bool] | None = None) -> dict[str, Any]:
    """The report of one measured window of `duration_s` seconds.

    `errors`, when given, is parallel to `samples` and overrides the status rule (True = error)."""
    rows = list(samples)
    flags = list(errors) if errors is not None else [is_error(s[2]) for s in rows]
    duration_s = max(duration_s, 1e-9)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, (_, label, _, _) in enumerate(rows):
        by_label[label].append(i)
    n = len(rows)
    n_err = sum(flags)
    endpoints = {}
    for label, idx in sorted(by_label.items(), key=lambda kv: -len(kv[1])):
        errs = sum(flags[i] for i in idx)
        endpoints[label] = {
            "requests": len(idx), "share": round(len(idx) / n, 4) if n else 0.0,
            "rps": round(len(idx) / duration_s, 1), "errors": errs,
            "error_rate": round(errs / len(idx), 5) if idx else 0.0,
            **_latency_block([rows[i][3] for i in idx if not flags[i]]),
            "statuses": _statuses(rows[i][2] for i in idx),
        }
    return {
        "duration_s": round(duration_s, 2), "requests": n, "errors": n_err,
        "error_rate": round(n_err / n, 5) if n else 0.0,
        "throughput_rps": round(n / duration_s, 1), "ok_rps": round((n - n_err) / duration_s, 1),
        "latency": _latency_block([r[3] for r, bad in zip(rows, flags) if not bad]),
        "statuses": _statuses(r[2] for r in rows),
        "endpoints": endpoints,
        "timeline": timeline(rows, flags, duration_s, window_s),
    }


def _statuses(codes: Iterable[int]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for c in codes:
        out[str(c)] += 1
    return dict(sorted(out.items()))


def timeline(rows: Sequence[Sample], flags: Sequence[bool], duration_s: float,
             window_s: float = 1.0) -> list[dict[str, Any]]:
    """Per window of `window_s` seconds: throughput, errors and p50/p95/p99 of the answers in it."""
    n_windows = max(1, math.ceil(duration_s / window_s))
    buckets: list[list[float]] = [[] for _ in range(n_windows)]
    errs = [0] * n_windows
    counts = [0] * n_windows
    for (end, _, _, lat), bad in zip(rows, flags):
        w = min(n_windows - 1, max(0, int(end / window_s)))
        counts[w] += 1
        if bad:
            errs[w] += 1
        else:
            buckets[w].append(lat)
    out = []
    for w in range(n_windows):
        xs = sorted(buckets[w])
        out.append({"t": round(w * window_s, 3), "rps": round(counts[w] / window_s, 1), "errors": errs[w],
                    **{f"p{p}_ms": _r(percentile(xs, p)) for p in PERCENTILES}})
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def render_endpoints(summary: dict[str, Any], title: str = "") -> str:
    """A Markdown table of one summary: one line per endpoint and the total."""
    lines = [f"**{title}**" if title else "",
             f"{summary['requests']:,} requests in {summary['duration_s']} s: {summary['throughput_rps']:,} req/s, "
             f"error rate {summary['error_rate']:.2%}, p50 {summary['latency']['p50_ms']} ms, "
             f"p95 {summary['latency']['p95_ms']} ms, p99 {summary['latency']['p99_ms']} ms", "",
             "| endpoint | share | req/s | p50 ms | p95 ms | p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, e in summary["endpoints"].items():
        lines.append(f"| {label} | {e['share']:.1%} | {e['rps']:,} | {e['p50_ms']} | {e['p95_ms']} | "
                     f"{e['p99_ms']} | {e['errors']} |")
    return "\n".join(line for line in lines if line is not None)
