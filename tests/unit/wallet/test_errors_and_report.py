"""Rule violations become stable HTTP errors; the verify report renders readable text and plain JSON."""
from datetime import UTC, datetime
from decimal import Decimal as D

import orjson

from mycrypto.ops.verify import Check, VerifyReport
from mycrypto.wallet.domain.errors import RuleViolation
from mycrypto.wallet.errors import from_rule


def test_rule_codes_map_to_statuses_and_decimal_details_become_strings():
    err = from_rule(RuleViolation("daily_limit_exceeded", "too much", details={"remaining": D("1.50000000")}))
    assert err.http_status == 400 and err.code == "daily_limit_exceeded"
    assert orjson.loads(orjson.dumps(err.body()))["error"]["details"] == {"remaining": "1.5"}
    assert from_rule(RuleViolation("invalid_address", "x")).http_status == 422
    assert from_rule(RuleViolation("invalid_withdrawal_state", "x")).http_status == 409
    assert from_rule(RuleViolation("withdrawals_disabled", "x")).http_status == 403


def _report(problems):
    checks = [Check("postings_balanced", "every posting balances"),
              Check("locked_matches_holds", "locked equals holds", problems, len(problems))]
    summary = {"postings": 3, "legs": 6, "accounts": 9, "open_orders": 0, "pending_withdrawals": 1,
               "assets": {"BTC": {"users_available": D("1.5"), "users_locked": D("0.1"), "fees": D("0"),
                                  "chain_in": D("-1.6"), "chain_out": D("0")}}}
    return VerifyReport(datetime(2024, 1, 1, tzinfo=UTC), checks, summary)


def test_a_clean_report():
    report = _report([])
    assert report.ok
    text = report.render()
    assert "RESULT: OK" in text and "[ok  ] postings_balanced" in text and "-1.6" in text
    data = orjson.loads(orjson.dumps(report.as_dict()))
    assert data["ok"] is True and data["summary"]["assets"]["BTC"]["chain_in"] == "-1.6"


def test_a_failing_report_names_the_check_and_the_rows():
    report = _report([{"user_id": 5, "asset": "BTC", "locked": D("0.1"), "expected": D("0")}])
    assert not report.ok and [c.name for c in report.failures] == ["locked_matches_holds"]
    text = report.render()
    assert "[FAIL] locked_matches_holds" in text and "user_id=5" in text and "expected=0" in text
    assert "RESULT: FAILED - 1 discrepancy in locked_matches_holds" in text
    data = report.as_dict()
    assert data["ok"] is False and data["checks"][1]["problems"][0]["locked"] == "0.1"
