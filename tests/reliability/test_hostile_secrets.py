"""No credential from the station file in a run file or a log line.

Found: a webhook URL with user:password and a token was stored verbatim in
``entry/config/station_text`` of every run file and printed in the error line when the
notification failed.
"""

from __future__ import annotations

import logging

import pytest

from stm_andreev.config.station import Notifications, WebhookConfig
from stm_andreev.engine.notify import Notifier
from stm_andreev.redact import redact
from stm_andreev.storage import RunReader, RunWriter

pytestmark = [pytest.mark.faults, pytest.mark.hostile]

SECRETS = ("s3cret-pw", "tok-abc123", "k-987654", "hunter2")
STATION_TEXT = f"""name: lab
notifications:
  webhook:
    url: https://alice:{SECRETS[0]}@127.0.0.1:1/hook?token={SECRETS[1]}&run=1
  smtp:
    host: smtp.lab.org
    username: bob
    password_env: SMTP_PASSWORD
    password: {SECRETS[3]}
    api_key: "{SECRETS[2]}"
instruments:
  stm:
    options: {{lockin_x_signal: "LI Demod 1 X (V)"}}
"""


def test_redact_keeps_what_is_not_secret():
    text = redact(STATION_TEXT)
    assert not any(s in text for s in SECRETS)
    for kept in ("https://alice:***@127.0.0.1:1/hook?token=***&run=1", "username: bob",
                 "password_env: SMTP_PASSWORD", 'lockin_x_signal: "LI Demod 1 X (V)"'):
        assert kept in text


def test_run_file_never_stores_a_credential(tmp_path, outcome):
    outcome.fault, outcome.instrument = "credentials in the station file", "file / log"
    outcome.spectra_planned = 0
    outcome.injections = len(SECRETS)
    path = tmp_path / "run.h5"
    writer = RunWriter.create(path, n_bias=3, n_planned=1, metadata={}, station_text=STATION_TEXT,
                              plan_text="name: p", snapshot={})
    writer.close("finished")
    raw = path.read_bytes()
    assert not any(s.encode() in raw for s in SECRETS)
    with RunReader(path) as run:
        assert "alice:***@127.0.0.1" in run.station_text
    outcome.happened = "station text stored with passwords, tokens and keys as ***; a failed " \
                       "webhook is logged with its URL redacted"


def test_failed_notification_logs_no_credential(caplog):
    url = f"http://alice:{SECRETS[0]}@127.0.0.1:1/hook?token={SECRETS[1]}"
    notifier = Notifier(Notifications(webhook=WebhookConfig(url=url)), timeout_s=5)
    with caplog.at_level(logging.INFO):
        assert notifier.send("finish", "done") is False
    logged = caplog.text + " ".join(reason for _, _, reason in notifier.failures)
    assert "notification of 'finish' by webhook failed" in caplog.text
    assert not any(s in logged for s in SECRETS), logged
