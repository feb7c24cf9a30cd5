"""PNG charts of load runs (matplotlib, from the `bench` extra), drawn from mycrypto.ops.loadstats summaries.

- `run_chart`: one run: p50/p95/p99 over time, throughput and errors over time, p95 per endpoint.
- `scale_chart`: the cost curve: p95 (overall and of the busiest endpoints) against the amount of
  work in the database (1x, 10x history rows and resting orders), with the 1.5x-of-1x limit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402


def _series(timeline: list[dict[str, Any]], key: str) -> list[float]:
    return [float("nan") if w[key] is None else w[key] for w in timeline]


def run_chart(summary: dict[str, Any], path: Path, title: str, sla_p95_ms: float | None = 200.0) -> Path:
    tl = summary["timeline"]
    t = [w["t"] for w in tl]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 11), gridspec_kw={"height_ratios": [3, 2, 3]})
    for key, style in (("p50_ms", "-"), ("p95_ms", "-"), ("p99_ms", ":")):
        ax1.plot(t, _series(tl, key), style, label=key.replace("_ms", ""))
    if sla_p95_ms:
        ax1.axhline(sla_p95_ms, color="red", linewidth=0.8, linestyle="--", label=f"p95 target {sla_p95_ms:g} ms")
    ax1.set_ylabel("latency (ms)")
    ax1.set_yscale("log")
    ax1.set_title(f"{title}: latency percentiles per {_window(tl)} s window")
    ax1.legend(loc="upper left")
    ax1.grid(True, alpha=0.3)

    ax2.plot(t, _series(tl, "rps"), label="requests/s")
    ax2.bar(t, [w["errors"] for w in tl], width=_window(tl) * 0.8, color="red", alpha=0.6, label="errors")
    ax2.set_xlabel("seconds")
    ax2.set_ylabel("per second / per window")
    ax2.legend(loc="upper left")
    ax2.grid(True, alpha=0.3)
    ax2.set_title(f"throughput {summary['throughput_rps']:,} req/s, error rate {summary['error_rate']:.2%}")

    eps = list(summary["endpoints"].items())[:16]
    names = [name if len(name) <= 48 else name[:45] + "..." for name, _ in eps]
    y = range(len(eps))
    ax3.barh([i + 0.2 for i in y], [e["p50_ms"] or 0 for _, e in eps], height=0.4, label="p50")
    ax3.barh([i - 0.2 for i in y], [e["p95_ms"] or 0 for _, e in eps], height=0.4, label="p95")
    ax3.set_yticks(list(y))
    ax3.set_yticklabels(names, fontsize=7)
    ax3.invert_yaxis()
    ax3.set_xscale("log")
    ax3.set_xlabel("ms (log scale)")
    ax3.legend(loc="lower right")
    ax3.set_title("per endpoint (busiest first)")
    ax3.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _window(tl: list[dict[str, Any]]) -> float:
    return round(tl[1]["t"] - tl[0]["t"], 3) if len(tl) > 1 else 1.0


def scale_chart(points: list[dict[str, Any]], path: Path, endpoints: int = 5) -> Path:
    """points: [{"scale": 1, "summary": {...}, ...}, ...] in increasing scale."""
    xs = [p["scale"] for p in points]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    overall = [p["summary"]["latency"]["p95_ms"] for p in points]
    ax.plot(xs, overall, "o-", linewidth=2.5, label="all requests")
    busiest = list(points[0]["summary"]["endpoints"])[:endpoints]
    for name in busiest:
        ys = [p["summary"]["endpoints"].get(name, {}).get("p95_ms") for p in points]
        ax.plot(xs, [float("nan") if v is None else v for v in ys], "o--", linewidth=1, label=name[:50])
    if overall and overall[0]:
        ax.axhline(1.5 * overall[0], color="red", linestyle=":", label="1.5 x p95 at 1x")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x:g}x" for x in xs])
    ax.set_xlabel("history rows and resting orders (multiple of the base seed)")
    ax.set_ylabel("p95 latency (ms)")
    ax.set_title("Mixed journey: cost as the data grows")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
