"""Statement timing: sampled durations from the server log, verdicts against the budget, the report."""
from mycrypto.ops import querytiming
from mycrypto.ops.querytiming import StatementTiming

LOG = """\
2026-12-04 14:50:57.150 UTC [28460] qid=611 db=bench LOG:  duration: 0.002 ms  execute __asyncpg_stmt_1__: SELECT $1::int + 1
2026-12-04 14:50:57.150 UTC [28460] qid=611 db=bench DETAIL:  parameters: $1 = '3'
2026-12-04 14:50:57.150 UTC [28460] qid=611 db=bench LOG:  duration: 0.012 ms  bind __asyncpg_stmt_1__: SELECT $1::int + 1
2026-12-04 14:50:57.151 UTC [28460] qid=-88 db=bench LOG:  duration: 25.5 ms  statement: SELECT pg_sleep(0.025)
2026-12-04 14:50:57.151 UTC [28460] qid=611 db=other LOG:  duration: 9.0 ms  execute s: SELECT $1::int + 1
2026-12-04 14:50:57.151 UTC [28460] qid=0 db=bench LOG:  duration: 1.0 ms  execute s: BEGIN
"""


def test_sampled_durations_count_executions_of_one_database_only():
    got = querytiming.sampled_durations(LOG, "bench")
    assert got == {611: [0.002], -88: [25.5]}       # no bind line, no other database, no query id 0
    assert querytiming.sampled_durations(LOG)[611] == [0.002, 9.0]


def st(mean: float, stddev: float, p95: float | None = None) -> StatementTiming:
    s = StatementTiming(1, "SELECT 1", 100, mean, stddev, mean * 3, mean * 100, mean + 19 ** 0.5 * stddev)
    if p95 is not None:
        s.p95_ms, s.samples = p95, 10
    return s


def test_verdicts():
    assert st(6.0, 0.0).verdict() == "over"                 # mean over 5 ms
    assert st(1.0, 1.0).verdict() == "ok"                   # bound 5.4 ms < 20: proven
    assert st(2.0, 5.0).verdict() == "unknown"              # bound 23.8 ms: unproven without samples
    assert st(2.0, 5.0, p95=8.0).verdict() == "ok"          # measured p95 settles it
    assert st(2.0, 5.0, p95=21.0).verdict() == "over"


def test_report_and_markdown():
    rep = querytiming.report("ok", [st(6.0, 0.0), st(1.0, 1.0)], sample_rate=0.1)
    assert rep["ok"] is False and rep["over_budget"] == 1 and rep["statements"] == 2 and rep["calls"] == 200
    assert rep["slowest"][0]["verdict"] == "over" and "sampled" in rep["p95_method"]
    md = querytiming.render_markdown(rep)
    assert "| 6.0 |" in md and "`SELECT 1`" in md
    unavailable = querytiming.report("unavailable: add pg_stat_statements to shared_preload_libraries", [])
    assert unavailable["ok"] is False
    assert querytiming.render_markdown(unavailable).startswith("Statement timing: unavailable")
