"""The go/no-go report: NOT_RUN blocks a launch, SKIPPED does not; table, JSON and Markdown agree."""
import json

from mycrypto.ops.preflight import CHECKS
from mycrypto.ops.preflight.result import GO, NO_GO, NOT_RUN, SKIPPED, CheckResult, PreflightReport, go, no_go, not_run


def report(*results: CheckResult) -> PreflightReport:
    return PreflightReport("http://127.0.0.1:8000", list(results))


def test_verdict():
    assert report(go("a", "x", "fine")).verdict == GO
    assert report(go("a", "x", "fine"), CheckResult("b", "y", SKIPPED, "skipped by --skip")).verdict == GO
    assert report(go("a", "x", "fine"), not_run("b", "y", "not built")).verdict == NO_GO
    assert report(no_go("a", "x", "down")).verdict == NO_GO


def test_table_json_and_markdown_carry_every_line_and_reason():
    r = report(go("health", "auth", "ok (database ok)"), no_go("health", "wallet", "unreachable: stopped"),
               not_run("smoke", "smoke journeys", "not built yet"))
    table = r.render_table()
    assert "health  wallet          NO-GO    unreachable: stopped" in table
    assert "VERDICT: NO-GO  (1 GO, 1 NO-GO, 1 NOT_RUN, 0 SKIPPED; NOT_RUN counts as NO-GO)" in table
    data = json.loads(r.to_json())
    assert data["verdict"] == NO_GO and data["counts"] == {GO: 1, NO_GO: 1, NOT_RUN: 1, SKIPPED: 0}
    assert [x["status"] for x in data["results"]] == [GO, NO_GO, NOT_RUN]
    assert data["results"][1]["reason"] == "unreachable: stopped"
    md = r.render_markdown()
    assert md.startswith("# Preflight: NO-GO") and "| health | wallet | **NO-GO** | unreachable: stopped |" in md


def test_the_checklist_lines_and_the_extension_points_are_all_there():
    assert list(CHECKS) == ["migrations", "health", "security_headers", "cors", "registration", "smoke", "load",
                            "db_queries", "backup_restore", "verify", "alert_rules"]
