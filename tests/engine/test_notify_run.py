"""Notifications from real (simulated, in-process) runs: pause and finish reach both channels,
and a dead notification server never stops the run."""

from __future__ import annotations

import pytest

from stm_andreev.cli import main
from stm_andreev.config import load_plan_text, load_station
from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.engine.notify import Notifier
from stm_andreev.storage import RunReader

from ..e2e.conftest import new_run
from .local_servers import closed_port, smtp_server, webhook_server
from .test_notify import notifications

# Two spectra at whatever temperature the fridge is (no temperature waits: seconds of wall time).
PLAN = """
name: notify
kind: setpoint_sweep
I_start_A: 1.0e-8
I_stop_A: 1.0e-6
n_setpoints: 2
n_bias: 21
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.1
"""


@pytest.fixture
def plan():
    return load_plan_text(PLAN, "notify.yaml")


class ResumingControl(RunControl):
    """The operator answers every pause with a resume at once (no wall-clock waits)."""

    def __init__(self) -> None:
        super().__init__(None)

    def wait_while_paused(self, on_pause=None) -> None:
        if self.paused:
            if on_pause is not None:
                on_pause()
            self.request("resume")
        self.check_abort()


def test_paused_and_finished_run_notifies_both_channels(tmp_path, plan):
    station, points, writer = new_run(tmp_path, plan)
    control = ResumingControl()
    with smtp_server() as (port, mails), webhook_server() as (url, hooks):
        notifier = Notifier(notifications(port, url))
        engine = RunEngine(
            station, points, writer, control=control, notifier=notifier,
            on_spectrum=lambda p, s: control.request("pause") if p.index == 0 else None,
        )
        summary = engine.run()
    station.close()
    assert summary.status == "finished"
    assert [p["event"] for p in hooks.posts] == ["pause", "finish"]
    assert [m.message["Subject"].split(":")[0] for m in mails.mails] == [
        "[stm-andreev] pause", "[stm-andreev] finish"]
    pause, finish = hooks.posts
    # The pause came after point 0: the message says where the run stood.
    assert pause["last_spectrum"]["point_index"] == 0
    assert pause["last_spectrum"]["setpoint_A"] == pytest.approx(1e-8)
    assert pause["last_spectrum"]["temperature_K"] < 0.06  # the fridge at base
    assert pause["status"] == "running" and pause["spectra_measured"] == 1
    assert finish["status"] == "finished" and finish["spectra_measured"] == len(points)
    assert finish["last_spectrum"]["point_index"] == len(points) - 1
    # 1 uA contact at -3 mV: G_sp = 4.3 G0
    assert finish["last_spectrum"]["G_sp_G0"] == pytest.approx(4.30, rel=0.03)
    assert finish["run"] == str(writer.path)


def test_dead_notification_server_does_not_stop_the_run(tmp_path, plan):
    station, points, writer = new_run(tmp_path, plan)
    notifier = Notifier(notifications(closed_port(), f"http://127.0.0.1:{closed_port()}/x"))
    summary = RunEngine(station, points, writer, control=ResumingControl(),
                        notifier=notifier).run()
    station.close()
    assert summary.status == "finished" and summary.measured == len(points)
    assert [(c, k) for c, k, _ in notifier.failures] == [("smtp", "finish"), ("webhook", "finish")]
    with RunReader(writer.path) as run:
        assert run.status == "finished"


def test_stm_andreev_run_builds_the_notifier_from_the_station_file(tmp_path, capsys):
    """`stm-andreev run` with a station file that has a notifications section."""
    plan_file = tmp_path / "notify.yaml"
    plan_file.write_text(PLAN)
    with smtp_server() as (port, mails), webhook_server() as (url, hooks):
        station_text = load_station("simulated").source_text + (
            "\nnotifications:\n"
            f"  smtp: {{host: 127.0.0.1, port: {port}, from: stm@lab.example.org,\n"
            "         to: [night@lab.example.org], starttls: false}\n"
            f"  webhook: {{url: '{url}'}}\n"
        )
        station = tmp_path / "station.yaml"
        station.write_text(station_text)
        code = main(["run", str(plan_file), "--station", str(station), "--out", str(tmp_path / "runs"),
                     "--no-report", "--quiet"])
    assert code == 0, capsys.readouterr()
    (path,) = (tmp_path / "runs").glob("*.h5")
    assert [p["event"] for p in hooks.posts] == ["finish"]
    assert hooks.posts[0]["run"] == str(path)
    assert hooks.posts[0]["spectra_measured"] == 2
    assert len(mails.mails) == 1 and path.name in mails.mails[0].message["Subject"]
