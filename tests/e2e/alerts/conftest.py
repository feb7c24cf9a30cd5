"""Fixtures of the alert tests: the whole app (the root `app`/`client` fixtures, with these settings)
with email going to a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.support.smtp import SmtpSink


@pytest.fixture
def smtp_sink():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def settings(db_dsn, tmp_path, smtp_sink):
    # email retries fast, so a test never waits on the relay's backoff
    return make_settings(db_dsn, data_dir=tmp_path, smtp_url=smtp_sink.url, email_retry_base_s=0.2,
                         alerts_max_per_user=5)
