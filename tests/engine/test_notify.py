"""Notifier: e-mail and webhook messages on loopback servers; failures logged, never raised."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from stm_andreev.config.station import Notifications
from stm_andreev.engine.notify import DEFAULT_KINDS, Notifier, last_spectrum_of
from stm_andreev.physics import G0_S

from .local_servers import closed_port, silent_server, smtp_server, webhook_server

RUN = "/data/runs/20261124-031200_paper-inO2.h5"


def notifications(smtp_port=None, webhook_url=None, **smtp) -> Notifications:
    data = {}
    if smtp_port is not None:
        data["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "from": "stm@lab.example.org",
            "to": ["night@lab.example.org", "pi@lab.example.org"],
            "starttls": False,
            **smtp,
        }
    if webhook_url is not None:
        data["webhook"] = {"url": webhook_url}
    return Notifications.model_validate(data)


def summary(**extra):
    base = dict(
        path=RUN,
        planned=46,
        measured=12,
        already_done=3,
        status="running",
        last_spectrum={
            "point_index": 14,
            "setpoint_A": 1e-6,
            "temperature_K": 0.0652,
            "G_sp_S": 4.302 * G0_S,
            "time_s": 1234.5,
        },
    )
    base.update(extra)
    return SimpleNamespace(**base)


def test_default_kinds_cover_run_end_pause_and_every_interlock():
    for kind in ("finish", "pause", "failure", "abort", "safe_tip", "saturation",
                 "temperature_ceiling", "link_lost", "instrument_error", "settle_timeout"):
        assert kind in DEFAULT_KINDS
    # Routine events would drown the important ones.
    for kind in ("start", "temperature", "retake", "resume"):
        assert kind not in DEFAULT_KINDS
    assert Notifier(notifications(), kinds={"finish"}).kinds == {"finish"}


def test_mail_carries_run_event_and_last_spectrum():
    with smtp_server() as (port, state):
        notifier = Notifier(notifications(port))
        assert notifier.send("safe_tip", "the controller reported a safe-tip event", summary())
    assert notifier.delivered == [("smtp", "safe_tip")] and notifier.failures == []
    (mail,) = state.mails
    assert mail.sender == "stm@lab.example.org"
    assert mail.recipients == ["night@lab.example.org", "pi@lab.example.org"]
    msg = mail.message
    assert msg["Subject"] == "[stm-andreev] safe_tip: 20261124-031200_paper-inO2.h5"
    assert msg["To"] == "night@lab.example.org, pi@lab.example.org"
    body = msg.get_content()
    assert "Event:    safe_tip" in body
    assert "the controller reported a safe-tip event" in body
    assert f"Run file: {RUN}" in body
    assert "Spectra:  15 of 46 planned" in body
    assert "I_sp = 1e-06 A, T = 65.2 mK, G_sp = 4.3 G0, point 14" in body
    assert "STAR" not in state.commands  # starttls: false sends no STARTTLS


def test_webhook_posts_json_with_last_spectrum():
    with webhook_server() as (url, state):
        notifier = Notifier(notifications(webhook_url=url))
        assert notifier.send("finish", "46 spectra measured", summary(status="finished"))
    (post,) = state.posts
    assert state.headers[0]["Content-Type"] == "application/json"
    assert post["event"] == "finish" and post["message"] == "46 spectra measured"
    assert post["run"] == RUN and post["status"] == "finished"
    assert post["spectra_measured"] == 15 and post["spectra_planned"] == 46
    last = post["last_spectrum"]
    assert last["setpoint_A"] == 1e-6 and last["temperature_K"] == 0.0652
    assert last["G_sp_G0"] == pytest.approx(4.302)
    assert post["text"].startswith("stm-andreev 20261124-031200_paper-inO2.h5: finish")
    assert "G_sp = 4.3 G0" in post["text"]


def test_both_channels_and_no_summary():
    with smtp_server() as (port, mails), webhook_server() as (url, hooks):
        notifier = Notifier(notifications(port, url))
        assert notifier.channels == ["smtp", "webhook"]
        assert notifier.send("abort", "aborted by the operator")
    assert len(mails.mails) == 1 and len(hooks.posts) == 1
    assert hooks.posts[0]["last_spectrum"] is None and hooks.posts[0]["run"] is None
    assert "Last spectrum: none yet" in mails.mails[0].message.get_content()


def test_last_spectrum_passed_in_wins_over_the_summary():
    with webhook_server() as (url, state):
        notifier = Notifier(notifications(webhook_url=url))
        assert notifier.send("pause", "paused", summary(),
                             last_spectrum={"setpoint_A": 5e-9, "G_sp_S": 0.0215 * G0_S})
    post = state.posts[0]
    assert post["last_spectrum"]["setpoint_A"] == 5e-9
    assert post["last_spectrum"]["G_sp_G0"] == pytest.approx(0.0215)
    assert post["run"] == RUN and post["spectra_planned"] == 46


def test_nan_values_are_sent_as_null_not_invalid_json():
    s = summary(last_spectrum={"setpoint_A": 1e-9, "temperature_K": float("nan"),
                               "G_sp_S": float("nan")})
    assert last_spectrum_of(s) == {"setpoint_A": 1e-9, "temperature_K": None, "G_sp_S": None}
    with webhook_server() as (url, state):
        assert Notifier(notifications(webhook_url=url)).send("pause", "operator pause", s)
    assert state.posts[0]["last_spectrum"]["temperature_K"] is None


def test_closed_ports_are_logged_and_never_raise(caplog):
    port = closed_port()
    notifier = Notifier(notifications(port, f"http://127.0.0.1:{closed_port()}/hook"))
    with caplog.at_level(logging.ERROR, logger="stm_andreev.engine.notify"):
        assert notifier.send("failure", "RuntimeError: boom", summary()) is False
    assert [f[0] for f in notifier.failures] == ["smtp", "webhook"]
    assert "ConnectionRefusedError" in notifier.failures[0][2]
    assert "unreachable" in notifier.failures[1][2]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "notification of 'failure' by smtp failed" in logged
    assert "notification of 'failure' by webhook failed" in logged


def test_http_error_status_is_a_logged_failure():
    with webhook_server() as (url, state):
        state.status = 500
        notifier = Notifier(notifications(webhook_url=url))
        assert notifier.send("pause", "paused", summary()) is False
    assert "HTTP 500" in notifier.failures[0][2]


def test_silent_server_times_out():
    with silent_server() as port:
        notifier = Notifier(notifications(port), timeout_s=0.2)
        assert notifier.send("pause", "paused", summary()) is False
    assert "timed out" in notifier.failures[0][2]


def test_starttls_refused_by_server_is_not_sent_in_clear():
    with smtp_server() as (port, state):
        notifier = Notifier(notifications(port, starttls=True))
        assert notifier.send("pause", "paused", summary()) is False
    assert state.mails == []
    assert "STARTTLS" in notifier.failures[0][2]


def test_missing_password_variable_is_named():
    with smtp_server() as (port, state):
        notifier = Notifier(
            notifications(port, username="stm", password_env="STM_TEST_SMTP_PASSWORD"),
            environ={},
        )
        assert notifier.send("pause", "paused", summary()) is False
    assert "STM_TEST_SMTP_PASSWORD" in notifier.failures[0][2]
    assert state.mails == []


def test_refused_recipient_is_reported():
    with smtp_server() as (port, state):
        state.refuse.add("pi@lab.example.org")
        notifier = Notifier(notifications(port))
        assert notifier.send("finish", "done", summary()) is False
    assert "pi@lab.example.org" in notifier.failures[0][2]
    assert state.mails[0].recipients == ["night@lab.example.org"]


def test_bad_timeout_is_refused():
    with pytest.raises(ValueError, match="timeout_s"):
        Notifier(notifications(), timeout_s=0)
