#!/usr/bin/env python3
"""Mixed-load benchmark: Locust users + the hot-path driver + statement timing, against 127.0.0.1.

What one run does (every step bounded in time):
1. starts a private PostgreSQL with statement statistics (bench/load/pgstats.py; `--pg existing`
   uses PGURL instead, where pg_stat_statements is usually not loaded), creates a fresh database and
   runs `mycrypto serve all --migrate` on a free 127.0.0.1 port (development mode: mailbox and faucet
   on, rate limits off because every simulated user comes from 127.0.0.1);
2. seeds it through the real HTTP paths (bench/load/seed.py): accounts (register, confirm, sign in,
   API key, faucet), `--resting` resting orders per market and `--history` trades per account;
3. for each `--scales` factor (default 1 and 10): grows the resting orders and the history to that
   multiple of the base seed, resets the statement statistics, runs the Locust journeys
   (bench/load/locustfile.py: `--users` concurrent users for `--seconds`), then reads the statement
   timing (mean and p95 per statement against the 20 ms budget);
4. runs the hot-path driver (mycrypto.ops.loadgen): signed API-key order placement at full speed and
   at `--hot-rate`/s, order book reads against the constant endpoint (alternating pairs: the ratio),
   and order book reads at `--hot-rate`/s; after the scale series, on the largest data set;
5. writes results.json, report.md and PNG charts into `--out` and prints the report.

    . .venv/bin/activate
    python bench/load/run.py                                   # 100 users, 60 s, scales 1 and 10
    python bench/load/run.py --users 20 --seconds 10 --scales 1 --hot-seconds 3   # a quick look
    python bench/load/run.py --base-url http://127.0.0.1:8000 --users-file var/load/users.json --scales 1
                                                               # an already running, seeded server
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(ROOT / "src"))

import asyncpg  # noqa: E402
import chart  # noqa: E402
import seed  # noqa: E402
from orders import SMALL_QTY, mixed_orders  # noqa: E402
from pgstats import StatsPostgres, find_bindir  # noqa: E402
from procstat import CpuSampler  # noqa: E402

from mycrypto.ops import loadgen, loadstats, querytiming  # noqa: E402

JWT_SECRET = "bench-only-jwt-secret-0123456789abcdef-0123456789"
LOGIN = "POST /api/v1/auth/login"
FIRST_LOGIN = "POST /api/v1/auth/login (first)"      # each user's first sign-in: the ramp-up
CONST = "GET /api/v1/trade/ping-constant (baseline)"
TARGETS = {"mixed_rps": 1000, "mixed_p95_ms": 200, "orders_per_s": 2000, "orders_p95_ms_at_1000": 50,
           "book_vs_const": 0.90, "book_p50_ms": 10, "book_p95_ms": 25, "scale_p95_ratio": 1.5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    return info


class Stack:
    """PostgreSQL + a fresh database + `mycrypto serve all`, or an external server (`--base-url`)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pg: StatsPostgres | None = None
        self.proc: subprocess.Popen | None = None
        self.dbname = f"mycrypto_load_{os.getpid()}"
        self.db_dsn: str | None = args.database_url
        self.base_url = args.base_url
        self.admin_dsn = ""
        self.tmp = Path(tempfile.mkdtemp(prefix="mycrypto-load-"))

    def __enter__(self) -> Stack:
        if self.base_url:
            return self
        if self.args.pg == "private":
            bindir = find_bindir()
            if bindir is None:
                print("no PostgreSQL with pg_stat_statements installed: using PGURL (no statement timing)")
            else:
                self.pg = StatsPostgres(bindir).start()
        self.admin_dsn = self.pg.dsn if self.pg else os.environ.get(
            "PGURL", "postgresql://postgres@127.0.0.1:5432/postgres")
        asyncio.run(self._sql(self.admin_dsn, f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)',
                              f'CREATE DATABASE "{self.dbname}"'))
        self.db_dsn = self.admin_dsn.rsplit("/", 1)[0] + "/" + self.dbname
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL", "SMTP_URL")}
        env.update({"DATABASE_URL": self.db_dsn, "MYCRYPTO_PORT": str(port), "MYCRYPTO_HOST": "127.0.0.1",
                    "MYCRYPTO_ENV": "development", "JWT_SECRET": JWT_SECRET, "LOG_LEVEL": "WARNING",
                    "RATE_LIMITS_ENABLED": "false", "MYCRYPTO_DATA_DIR": str(self.tmp / "data")})
        self.proc = subprocess.Popen([sys.executable, "-m", "mycrypto.cli", "serve", "all", "--migrate"],
                                     env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL,
                                     stderr=open(self.tmp / "server.log", "w"))
        wait_ready(self.base_url, self.proc, self.tmp / "server.log")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.admin_dsn and not self.args.keep:
            try:
                asyncio.run(self._sql(self.admin_dsn, f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)'))
            except Exception as e:  # the report matters more than the cleanup
                print(f"could not drop {self.dbname}: {e}")
        if self.pg is not None:
            self.pg.stop()

    @staticmethod
    async def _sql(dsn: str, *statements: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for s in statements:
                await conn.execute(s)
        finally:
            await conn.close()

    async def _fetch(self, fn) -> Any:  # noqa: ANN001
        conn = await asyncpg.connect(self.db_dsn)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    def row_counts(self) -> dict[str, int] | None:
        """How much work is in the database (read-only counts)."""
        if not self.db_dsn:
            return None

        async def go(conn: Any) -> dict[str, int]:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM trade.spot_order WHERE status IN ('new', 'partially_filled')) AS resting,"
                " (SELECT count(*) FROM trade.spot_order) AS orders, (SELECT count(*) FROM trade.trade) AS trades,"
                " (SELECT count(*) FROM wallet.posting) AS postings,"
                " (SELECT count(*) FROM wallet.withdrawal) AS withdrawals,"
                " (SELECT count(*) FROM auth.app_user) AS users")
            return dict(row)
        return asyncio.run(self._fetch(go))

    def reset_stats(self) -> int:
        """Start a statement-timing window; returns the server log offset to read samples from."""
        if self.db_dsn:
            asyncio.run(self._fetch(querytiming.reset))
        return self.pg.log_offset() if self.pg else 0

    def statement_timing(self, log_offset: int) -> dict[str, Any] | None:
        if not self.db_dsn:
            return None
        samples = querytiming.sampled_durations(self.pg.read_log(log_offset), self.dbname) if self.pg else None

        async def go(conn: Any) -> tuple[str, list]:
            return await querytiming.collect(conn, samples)
        status, statements = asyncio.run(self._fetch(go))
        return querytiming.report(status, statements, sample_rate=self.pg.sample_rate if self.pg else None)


def wait_ready(base_url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited; see {log}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base_url + "/health/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not become ready")


def argon2_cost() -> dict[str, float]:
    """CPU and wall seconds of one argon2id verification with the server's default parameters."""
    from mycrypto.auth.passwords import hasher
    from mycrypto.config import Settings

    h = hasher(Settings(_env_file=None))
    stored = h.hash("a load test passphrase")
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(3):
        h.verify(stored, "a load test passphrase")
    return {"cpu_s": round((time.process_time() - c0) / 3, 4), "wall_s": round((time.perf_counter() - w0) / 3, 4)}


# ---------------------------------------------------------------------------------------------- Locust
def run_locust(stack: Stack, users_file: Path, out: Path, users: int, seconds: float, spawn_rate: float,
               wait: str, processes: int, session_tasks: int = 200) -> dict[str, Any]:
    """Run the Locust journeys for the ramp-up + `seconds`; summarise the window after the ramp-up.

    The measured window starts when the last user has finished its first sign-in (every user is
    then in its journey; locustfile.py stops `seconds` after that same moment). The ramp-up (everyone signing
    in at once: a burst of argon2id work) is reported apart in `ramp_up`; sign-ins inside the window
    are the journeys' new sessions (LOAD_SESSION_TASKS)."""
    ramp = users / spawn_rate
    samples_dir = out / "samples"
    for old in samples_dir.glob("samples-*.json"):
        old.unlink()
    env = {**os.environ, "LOAD_USERS_FILE": str(users_file), "LOAD_SAMPLES_DIR": str(samples_dir), "LOAD_WAIT": wait,
           "LOAD_SESSION_TASKS": str(session_tasks),
           # one process: it stops itself `seconds` after everyone signed in (-t is only the safety bound);
           # with --processes each worker would count on its own, so -t alone ends the run
           "LOAD_MEASURE_SECONDS": str(seconds if processes == 1 else 0)}
    bound = seconds + ramp + (180 if processes == 1 else 5)
    cmd = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(users),
           "-r", str(spawn_rate), "-t", f"{max(1, round(bound))}s", "--host", stack.base_url,
           "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    with open(out / "locust.log", "a") as log:
        locust = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler = CpuSampler({"server": stack.proc.pid if stack.proc else 0, "locust": locust.pid},
                             stack.dbname).start()
        try:
            if locust.wait(bound + 120) != 0:
                raise SystemExit(f"Locust failed; see {out / 'locust.log'}")
        except subprocess.TimeoutExpired:
            locust.kill()
            raise
        finally:
            sampler.stop()
    raw: list[list] = []
    for f in samples_dir.glob("samples-*.json"):
        raw += json.loads(f.read_text())
    if not raw:
        raise SystemExit(f"Locust recorded no requests; see {out / 'locust.log'}")
    start = min(end - lat / 1000 for end, _, _, lat, _ in raw)
    last = max(end for end, *_ in raw)
    first_logins = [end for end, label, *_ in raw if label == FIRST_LOGIN]
    # The window opens where locustfile.py starts its stop clock: when the last user's first sign-in
    # ended (every user is spawned by then). Only if the sign-ins never all finished does it fall
    # back to the nominal ramp-up.
    all_signed_in = bool(first_logins) and max(first_logins) < last - 1
    t0 = max(first_logins) if all_signed_in else start + ramp
    kept = [r for r in raw if r[0] >= t0 and r[1] != FIRST_LOGIN]
    warm = [r for r in raw if r[0] < t0 or r[1] == FIRST_LOGIN]
    rows = [(end - t0, label, status, lat) for end, label, status, lat, _ in kept]
    duration = max((r[0] for r in rows), default=0.0)
    summary = loadstats.summarize(rows, duration, window_s=max(1.0, duration / 60), errors=[e for *_, e in kept])
    summary["ramp_up"] = {"seconds": round(t0 - start, 1), "every_user_signed_in": all_signed_in,
                          "requests": len(warm), "sign_ins": sum(1 for r in warm if r[1] in (LOGIN, FIRST_LOGIN)),
                          "errors": sum(1 for r in warm if r[4])}
    summary["sign_ins_whole_run"] = sum(1 for r in raw if r[1] in (LOGIN, FIRST_LOGIN))
    others = [r[3] for r in rows if r[1] != LOGIN and not loadstats.is_error(r[2])]
    summary["p95_ms_without_sign_in"] = loadstats.percentile(sorted(others), 95) if others else None
    # CPU of the measured window; everything of the server off its event loop's thread is argon2id
    # (its pool threads and the threads libargon2 starts per hash, gone from /proc when they end)
    cpu = sampler.window(t0, t0 + duration)
    if "server_s" in cpu:
        cpu["server_argon2id_s"] = round(cpu["server_s"] - cpu["server_event_loop_s"], 2)
    summary["cpu"] = cpu
    whole = sampler.window(start, last)
    summary["cpu_whole_run"] = whole
    return summary


def login_share(summary: dict[str, Any], cost: dict[str, float]) -> dict[str, Any]:
    e = summary["endpoints"].get(LOGIN, {"requests": 0, "share": 0.0, "mean_ms": 0})
    total_time = sum((x["mean_ms"] or 0) * x["requests"] for x in summary["endpoints"].values())
    cpu = summary.get("cpu", {})                                  # the measured window
    server_cpu = cpu.get("server_s") or 0
    est = e["requests"] * cost["cpu_s"]
    time_share = round((e["mean_ms"] or 0) * e["requests"] / total_time, 4) if total_time else None
    return {"requests": e["requests"], "share_of_requests": e["share"], "share_of_response_time": time_share,
            "argon2_cpu_s_each": cost["cpu_s"],
            "est_share_of_server_cpu": round(est / server_cpu, 4) if server_cpu else None,
            "measured_share_of_server_cpu": round(cpu["server_argon2id_s"] / server_cpu, 4)
            if server_cpu and "server_argon2id_s" in cpu else None}


def ratios_to_const(summary: dict[str, Any]) -> dict[str, Any]:
    const = summary["endpoints"].get(CONST)
    if not const:
        return {}
    return {name: {"p50_x": loadstats.ratio(e["p50_ms"], const["p50_ms"]),
                   "p95_x": loadstats.ratio(e["p95_ms"], const["p95_ms"])}
            for name, e in summary["endpoints"].items() if name != CONST}


# ---------------------------------------------------------------------------------------------- hot paths
async def run_hot(base_url: str, accounts: list[seed.Account], seconds: float, rate: float,
                  conns: int) -> dict[str, Any]:
    """Signed API-key orders (max and at `rate`/s), order book vs constant (pairs), book at `rate`/s."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    hostport = f"{host}:{port}"
    gen = mixed_orders(10**8, seed=int(time.time()) % 1000, markets=1, qty_of=SMALL_QTY)
    n = len(accounts)

    def orders(i: int) -> tuple[str, bytes]:   # signed on the fly: timestamps stay fresh
        return "POST /api/v3/order (signed)", seed.signed_order(hostport, accounts[i % n], next(gen))

    book = [loadgen.build_request("GET", "/api/v1/orderbook/BTC-USDT", hostport)]
    const = [loadgen.build_request("GET", "/api/v1/trade/ping-constant", hostport)]
    out: dict[str, Any] = {}
    short = max(min(2.0, seconds), seconds / 3)

    def keep(key: str, res: loadgen.Result) -> None:
        out[key] = loadstats.summarize(res.samples(), res.duration, window_s=max(0.5, res.duration / 40))

    keep("orders_max", await loadgen.closed_loop("orders max", host, port, orders, conns, seconds))
    keep(f"orders_at_{rate:g}", await loadgen.open_loop(f"orders @{rate:g}/s", host, port, orders, rate, seconds))
    pairs = []
    for _ in range(3):   # alternate: this machine's speed drifts over seconds (see docs/PERFORMANCE.md)
        c = await loadgen.closed_loop("const max", host, port, const, conns, short)
        b = await loadgen.closed_loop("book max", host, port, book, conns, short)
        pairs.append((c, b))
    c, b = sorted(pairs, key=lambda p: p[1].rps / max(1e-9, p[0].rps))[1]
    keep("const_max", c)
    keep("book_max", b)
    out["book_vs_const"] = {"ratios": [round(bb.rps / max(1e-9, cc.rps), 3) for cc, bb in pairs],
                            "median": round(b.rps / max(1e-9, c.rps), 3)}
    keep(f"book_at_{rate:g}", await loadgen.open_loop(f"book @{rate:g}/s", host, port, book, rate, seconds))
    return out


# ---------------------------------------------------------------------------------------------- report
def verdicts(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met?) lines for the report; None = not measured in this run."""
    t = TARGETS
    lines: list[tuple[str, str, bool | None]] = []
    base = results["scales"][0] if results["scales"] else None
    if base:
        s = base["summary"]
        lines.append((f"{results['config']['users']} users mixed: >= {t['mixed_rps']:,} req/s",
                      f"{s['throughput_rps']:,} req/s", s["throughput_rps"] >= t["mixed_rps"]))
        lines.append((f"mixed p95 < {t['mixed_p95_ms']} ms", f"{s['latency']['p95_ms']} ms "
                      f"({_ms(s['p95_ms_without_sign_in'])} ms without sign-ins)",
                      (s["latency"]["p95_ms"] or 1e9) < t["mixed_p95_ms"]))
        lines.append(("mixed: 0 errors", f"{s['errors']} ({s['error_rate']:.2%})", s["errors"] == 0))
        for sc in results["scales"][1:]:
            r = loadstats.ratio(sc["summary"]["latency"]["p95_ms"], s["latency"]["p95_ms"])
            r2 = loadstats.ratio(sc["summary"]["p95_ms_without_sign_in"], s["p95_ms_without_sign_in"])
            # the same ratio after dividing each run's p95 by its constant endpoint's p95: what is left
            # is what the data costs, not how much CPU the machine happened to give the server
            r3 = loadstats.ratio(_per_const(sc["summary"]), _per_const(s))
            lines.append((f"p95 at {sc['scale']:g}x data within {t['scale_p95_ratio']}x of 1x",
                          f"{r}x ({r2}x without sign-ins; {r3}x relative to the constant endpoint in each run)",
                          r is not None and r <= t["scale_p95_ratio"]))
    hot = results.get("hot")
    if hot:
        rate = results["config"]["hot_rate"]
        om, orate = hot["orders_max"], hot[f"orders_at_{rate:g}"]
        lines.append((f"signed orders >= {t['orders_per_s']:,}/s", f"{om['ok_rps']:,}/s",
                      om["ok_rps"] >= t["orders_per_s"]))
        lines.append((f"orders p95 < {t['orders_p95_ms_at_1000']} ms at {rate:g}/s",
                      f"{orate['latency']['p95_ms']} ms",
                      (orate["latency"]["p95_ms"] or 1e9) < t["orders_p95_ms_at_1000"]))
        r = hot["book_vs_const"]["median"]
        lines.append((f"order book >= {t['book_vs_const']:.0%} of the constant endpoint", f"{r:.1%}",
                      r >= t["book_vs_const"]))
        br = hot[f"book_at_{rate:g}"]["latency"]
        lines.append((f"order book p50 < {t['book_p50_ms']} ms, p95 < {t['book_p95_ms']} ms at {rate:g}/s",
                      f"p50 {br['p50_ms']} ms, p95 {br['p95_ms']} ms",
                      (br["p50_ms"] or 1e9) < t["book_p50_ms"] and (br["p95_ms"] or 1e9) < t["book_p95_ms"]))
    for sc in results["scales"]:
        qt = sc.get("statement_timing")
        if qt:
            ok = qt["ok"] if qt["query_stats"] == "ok" else None
            lines.append((f"every SQL statement mean < 5 ms, p95 < 20 ms ({sc['scale']:g}x)",
                          f"{qt['over_budget']} over, {qt['unknown']} unknown of {qt['statements']}"
                          if qt["query_stats"] == "ok" else qt["query_stats"], ok))
    return lines


def _per_const(summary: dict[str, Any]) -> float | None:
    const = summary["endpoints"].get(CONST, {}).get("p95_ms")
    p95 = summary["latency"]["p95_ms"]
    return p95 / const if const and p95 else None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    cfg = results["config"]
    out = [f"# Load run {results['started_at']}", "",
           f"Machine: {m.get('cores')} cores ({m.get('cpu', '?')}), {m.get('memory_gib', '?')} GiB; load average "
           f"at start {m['load_average']}, at end {results['machine_end']['load_average']}."
           + (" **Measured on a loaded machine: the numbers are low and noisy.**" if results["loaded"] else ""),
           f"Config: {cfg['users']} Locust users (spawned {cfg['spawn_rate']:g}/s) for {cfg['seconds']} s per scale, "
           f"think time {cfg['wait']} s, a new session every {cfg['session_tasks']} tasks, "
           f"{cfg['accounts']} accounts, base seed {cfg['resting']} resting orders/market and {cfg['history']} "
           f"trades/account, scales {cfg['scales']}.", "", "## Verdicts", "", "| target | measured | met |",
           "|---|---|---|"]
    for target, measured, met in verdicts(results):
        out.append(f"| {target} | {measured} | {'yes' if met else 'no' if met is False else 'not measured'} |")
    for sc in results["scales"]:
        s = sc["summary"]
        out += ["", f"## Mixed journey at {sc['scale']:g}x data", "",
                f"Rows before the run: {sc['rows']}.", f"CPU in the measured window: {s.get('cpu')}.",
                f"Ramp-up left out of the numbers: {s['ramp_up']}. p95 without sign-ins: "
                f"{_ms(s['p95_ms_without_sign_in'])} ms.",
                f"Login (argon2id), measured window: {sc['login']['requests']} sign-ins = "
                f"{sc['login']['share_of_requests']:.1%} of requests, "
                f"{sc['login']['share_of_response_time'] or 0:.1%} of summed response time and "
                f"{_pct(sc['login']['measured_share_of_server_cpu'])} of the server's CPU (measured: its CPU off the "
                f"event loop's thread; estimate {_pct(sc['login']['est_share_of_server_cpu'])} from "
                f"{sc['login']['argon2_cpu_s_each'] * 1000:.0f} ms CPU per hash). Whole run, ramp-up included: "
                f"{s['sign_ins_whole_run']} sign-ins, CPU {s['cpu_whole_run']}.", "",
                loadstats.render_endpoints(s), "", f"Chart: {sc['chart']}"]
        if sc.get("ratios_to_const"):
            out += ["", "Latency as a multiple of the constant endpoint's in the same run (p50 x / p95 x): " +
                    "; ".join(f"{k} {v['p50_x']} / {v['p95_x']}" for k, v in sc["ratios_to_const"].items())]
        if sc.get("statement_timing"):
            out += ["", "### Statement timing", "", querytiming.render_markdown(sc["statement_timing"])]
    hot = results.get("hot")
    if hot:
        out += ["", "## Hot paths (asyncio driver)", "", "| phase | ok/s | p50 ms | p95 ms | p99 ms | errors |",
                "|---|---:|---:|---:|---:|---:|"]
        for key, s in hot.items():
            if isinstance(s, dict) and "latency" in s:
                la = s["latency"]
                out.append(f"| {key} | {s['ok_rps']:,} | {la['p50_ms']} | {la['p95_ms']} | {la['p99_ms']} | "
                           f"{s['errors']} |")
        out += ["", f"Order book / constant endpoint throughput: {hot['book_vs_const']['median']:.1%} "
                f"(pairs {hot['book_vs_const']['ratios']})."]
        if results.get("hot_statement_timing"):
            out += ["", "### Statement timing (hot paths)", "",
                    querytiming.render_markdown(results["hot_statement_timing"])]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100, help="concurrent Locust users")
    ap.add_argument("--spawn-rate", type=float, default=10,
                    help="users started per second (each first signs in: ~10/s is what 2 cores can hash)")
    ap.add_argument("--seconds", type=float, default=60, help="Locust run length per scale")
    ap.add_argument("--wait", default="0.05,0.25", help="think time between a user's tasks: min,max seconds")
    ap.add_argument("--locust-processes", type=int, default=1)
    ap.add_argument("--session-tasks", type=int, default=200,
                    help="tasks per session before a Trader signs in again (sets how much of the mix is argon2id)")
    ap.add_argument("--accounts", type=int, default=0, help="accounts to seed (default: --users)")
    ap.add_argument("--resting", type=int, default=400, help="base resting orders per market")
    ap.add_argument("--history", type=int, default=10, help="base trades per account")
    ap.add_argument("--scales", default="1,10", help="comma-separated multiples of the base seed")
    ap.add_argument("--hot-seconds", type=float, default=10, help="per hot-path phase (0: skip)")
    ap.add_argument("--hot-rate", type=float, default=1000)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--pg", choices=("private", "existing"), default="private")
    ap.add_argument("--base-url", help="an already running, seeded server (skips starting one)")
    ap.add_argument("--users-file", type=Path, help="with --base-url: accounts from bench/load/seed.py")
    ap.add_argument("--database-url", help="with --base-url: its database, for row counts and statement timing")
    ap.add_argument("--out", type=Path, default=None, help="output directory (default var/load/run-<time>)")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = ap.parse_args()
    if args.base_url:
        seed._host_port(args.base_url)   # 127.0.0.1 only
        if not args.users_file:
            ap.error("--base-url needs --users-file")
    scales = sorted(float(x) for x in args.scales.split(","))
    out = (args.out or ROOT / "var" / "load" / time.strftime("run-%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    results: dict[str, Any] = {"started_at": started, "machine": machine(), "targets": TARGETS, "scales": [],
                               "config": {"users": args.users, "seconds": args.seconds, "wait": args.wait,
                                          "session_tasks": args.session_tasks, "spawn_rate": args.spawn_rate,
                                          "accounts": args.accounts or args.users, "resting": args.resting,
                                          "history": args.history, "scales": scales, "hot_rate": args.hot_rate,
                                          "hot_seconds": args.hot_seconds, "conns": args.conns}}
    results["loaded"] = results["machine"]["load_average"][0] > 0.5 * (os.cpu_count() or 1)
    cost = argon2_cost()
    with Stack(args) as stack:
        print(f"server {stack.base_url}; output {out}", flush=True)
        users_file = out / "users.json"
        if args.users_file:
            accounts = seed.load_accounts(args.users_file)
            seed.save_accounts(users_file, accounts)
        else:
            t0 = time.perf_counter()
            accounts = asyncio.run(seed.create_accounts(stack.base_url, args.accounts or args.users))
            seed.save_accounts(users_file, accounts)
            results["seed_accounts_s"] = round(time.perf_counter() - t0, 1)
        done = 0.0
        for scale in scales:
            if not args.users_file and scale > done:
                t0 = time.perf_counter()
                # the new resting orders sit beyond the ones already there, so every level is new
                asyncio.run(seed.seed_resting(stack.base_url, accounts, int(args.resting * (scale - done)),
                                              start=1 + int(args.resting * done) // 2))
                asyncio.run(seed.seed_history(stack.base_url, accounts, int(args.history * (scale - done))))
                print(f"seeded to {scale:g}x in {time.perf_counter() - t0:.0f} s", flush=True)
                done = scale
            rows = stack.row_counts()
            offset = stack.reset_stats()
            print(f"mixed journey at {scale:g}x: {args.users} users for {args.seconds:g} s (rows {rows})", flush=True)
            summary = run_locust(stack, users_file, out, args.users, args.seconds, args.spawn_rate, args.wait,
                                 args.locust_processes, args.session_tasks)
            png = chart.run_chart(summary, out / f"mixed-{scale:g}x.png", f"Mixed journey, {scale:g}x data")
            results["scales"].append({"scale": scale, "rows": rows, "summary": summary, "chart": png.name,
                                      "login": login_share(summary, cost), "ratios_to_const": ratios_to_const(summary),
                                      "statement_timing": stack.statement_timing(offset)})
            print(loadstats.render_endpoints(summary, f"{scale:g}x"), flush=True)
        if len(results["scales"]) > 1:
            chart.scale_chart(results["scales"], out / "scale.png")
        if args.hot_seconds > 0:
            offset = stack.reset_stats()
            print("hot paths", flush=True)
            results["hot"] = asyncio.run(run_hot(stack.base_url, accounts, args.hot_seconds, args.hot_rate, args.conns))
            results["hot_statement_timing"] = stack.statement_timing(offset)
            for key, s in results["hot"].items():
                if isinstance(s, dict) and "timeline" in s:
                    chart.run_chart(s, out / f"hot-{key}.png", f"Hot path: {key}",
                                    sla_p95_ms=25 if key.startswith("book") else 50)
    results["machine_end"] = machine()
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report = render(results)
    (out / "report.md").write_text(report)
    print(report)
    print(f"written: {out}/results.json, report.md and the charts")


if __name__ == "__main__":
    main()
