"""History filters and the opaque cursor (pure rules)."""
import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from mycrypto.wallet.domain import history as h
from mycrypto.wallet.domain.errors import RuleViolation

times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(times, st.sampled_from([h.SRC_DEPOSIT, h.SRC_WITHDRAWAL, h.SRC_LEDGER]), st.integers(1, 2**63 - 1),
       st.integers(0, 2**63 - 1))
def test_cursor_round_trips_exactly(ts, src, src_id, sub):
    key = h.CursorKey(ts, src, src_id, sub)
    assert h.decode_cursor(h.encode_cursor(key)) == key


@pytest.mark.parametrize("bad", ["", "x", "!!!!", "a" * 300,
                                 base64.urlsafe_b64encode(b"h1:1:9:1:0").decode(),  # unknown source
                                 base64.urlsafe_b64encode(b"h2:1:1:1:0").decode(),  # other version
                                 base64.urlsafe_b64encode(b"h1:x:1:1:0").decode(),
                                 base64.urlsafe_b64encode(b"h1:1:1:1").decode(),
                                 base64.urlsafe_b64encode(b"\xff\xfe").decode()])
def test_tampered_cursors_are_refused(bad):
    with pytest.raises(RuleViolation) as exc:
        h.decode_cursor(bad)
    assert exc.value.code == "invalid_cursor"


def test_types_parse_and_unknown_types_are_refused():
    assert h.parse_types(None) == h.TYPES and h.parse_types(" ") == h.TYPES
    assert h.parse_types("deposit, FEE,deposit") == ("deposit", "fee")
    for bad in ("deposits", "trade,bogus", ","):
        with pytest.raises(RuleViolation):
            h.parse_types(bad)


def test_times_accept_iso_with_or_without_zone_and_epoch_millis():
    assert h.parse_time("2024-05-01T12:00:00Z", "start") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert h.parse_time("2024-05-01T12:00:00", "start") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert h.parse_time("2024-05-01T14:00:00+02:00", "start") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert h.parse_time("1714564800000", "start") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert h.parse_time(None, "start") is None
    for bad in ("yesterday", "2024-13-01", "-5", "1e12"):
        with pytest.raises(RuleViolation):
            h.parse_time(bad, "start")


def test_build_filter_checks_limit_and_range():
    now = datetime.now(UTC)
    f = h.build_filter(asset="BTC", types="fee", start=None, end=None, limit=None, cursor=None)
    assert f.limit == h.DEFAULT_LIMIT and f.types == ("fee",) and f.wants("fee") and not f.wants("deposit")
    for limit in (0, h.MAX_LIMIT + 1):
        with pytest.raises(RuleViolation):
            h.build_filter(asset=None, types=None, start=None, end=None, limit=limit, cursor=None)
    with pytest.raises(RuleViolation):
        h.build_filter(asset=None, types=None, start=now.isoformat(), end=(now - timedelta(1)).isoformat(),
                       limit=10, cursor=None)
