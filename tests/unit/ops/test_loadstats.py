"""Load-run summaries: nearest-rank percentiles, per-endpoint lines, errors, the timeline."""
import math

from mycrypto.ops import loadgen, loadstats


def test_percentile_is_nearest_rank():
    xs = [float(x) for x in range(1, 101)]
    assert loadstats.percentile(xs, 50) == 50.0
    assert loadstats.percentile(xs, 95) == 95.0
    assert loadstats.percentile(xs, 99) == 99.0
    assert loadstats.percentile([7.0], 95) == 7.0
    assert math.isnan(loadstats.percentile([], 95))


def test_summary_per_endpoint_errors_and_timeline():
    samples = [(0.1 * i, "book", 200, float(i)) for i in range(1, 21)]          # 2 s of order book reads
    samples += [(0.5, "login", 200, 300.0), (1.5, "login", 401, 5.0)]          # one refused sign-in
    samples += [(1.9, "book", 0, float("nan"))]                                # one request without answer
    s = loadstats.summarize(samples, 2.0, window_s=1.0)
    assert s["requests"] == 23 and s["errors"] == 2
    assert s["error_rate"] == round(2 / 23, 5)
    assert s["throughput_rps"] == 11.5 and s["ok_rps"] == 10.5
    book = s["endpoints"]["book"]
    assert book["requests"] == 21 and book["errors"] == 1 and book["p50_ms"] == 10.0 and book["p95_ms"] == 19.0
    assert s["endpoints"]["login"]["errors"] == 1 and s["endpoints"]["login"]["p99_ms"] == 300.0
    assert list(s["endpoints"]) == ["book", "login"]                          # busiest first
    assert [w["t"] for w in s["timeline"]] == [0.0, 1.0]
    assert sum(w["rps"] for w in s["timeline"]) == 23 and sum(w["errors"] for w in s["timeline"]) == 2
    assert s["statuses"] == {"0": 1, "200": 21, "401": 1}


def test_expected_refusals_can_be_marked_ok():
    samples = [(0.1, "cancel", 409, 3.0), (0.2, "cancel", 200, 4.0)]
    s = loadstats.summarize(samples, 1.0, errors=[False, False])
    assert s["errors"] == 0 and s["endpoints"]["cancel"]["p95_ms"] == 4.0


def test_markdown_table_lists_every_endpoint():
    s = loadstats.summarize([(0.1, "a", 200, 1.0), (0.2, "b", 500, 2.0)], 1.0)
    table = loadstats.render_endpoints(s, "t")
    assert "| a |" in table and "| b |" in table and "error rate 50.00%" in table


def test_mix_follows_the_weights_and_keeps_labels():
    source = loadgen.mix([("x", b"X", 3), ("y", b"Y", 1)])
    got = [source(i) for i in range(400)]
    assert sum(1 for label, _ in got if label == "x") == 300
    assert all(raw == label.upper().encode() for label, raw in got)


def test_result_samples_include_requests_without_answer():
    r = loadgen.Result("p", 1.0)
    r.record("a", 200, 0.002, 0.5)
    r.record_error("a", 0.7, measured=True)
    r.record_error("a", 0.0, measured=False)      # warm-up: counted, not a sample
    assert r.errors == 2 and r.ok == 1 and r.row()["p50_ms"] == 2.0
    samples = r.samples()
    assert samples[0] == (0.5, "a", 200, 2.0) and samples[1][:3] == (0.7, "a", 0) and len(samples) == 2
