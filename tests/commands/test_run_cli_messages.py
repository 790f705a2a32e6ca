"""What `stm-andreev run` tells the user: the resume command after an abort, log records that
do not land on the progress bar's line, and a station file given as the plan (or vice versa)."""

from __future__ import annotations

import io
import logging
import os
import shlex
import signal
from types import SimpleNamespace

import pytest

from stm_andreev.cli import main
from stm_andreev.clock import VirtualClock
from stm_andreev.commands import run as run_command
from stm_andreev.storage import RunReader


def screen(text: str) -> list[str]:
    """The lines a terminal shows for ``text``: ``\\r`` returns to column 0 and overwrites."""
    lines, line, col = [], [], 0
    for ch in text:
        if ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif ch == "\r":
            col = 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    if line:
        lines.append("".join(line).rstrip())
    return lines


@pytest.fixture
def stderr_handler():
    """A root handler on a private stream, as logging.basicConfig installs on stderr."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream, handler
    root.removeHandler(handler)


def test_a_warning_mid_run_gets_its_own_line(stderr_handler):
    stream, _ = stderr_handler
    bar = run_command.ProgressBar(VirtualClock(), stream=stream)
    point = SimpleNamespace(step_label="setpoints", setpoint_A=1e-9, temperature_K=0.065)
    bar(0, 5, point)
    bar(1, 5, point)
    logging.getLogger("stm_andreev.engine").warning("temperature left its band")
    bar(2, 5, point)
    bar.finish()
    shown = screen(stream.getvalue())
    assert "WARNING stm_andreev.engine: temperature left its band" in shown
    assert shown[-1].startswith("[############") and "2/5" in shown[-1]
    assert len(shown) == 2


def test_the_bar_lets_go_of_the_handlers_when_finished(stderr_handler):
    stream, handler = stderr_handler
    bar = run_command.ProgressBar(VirtualClock(), stream=stream)
    bar(0, 1, None)
    bar.finish()
    assert handler.filters == []
    logging.getLogger("stm_andreev").warning("after the run")
    assert stream.getvalue().endswith("\nWARNING stm_andreev: after the run\n")


@pytest.mark.slow
def test_an_aborted_run_prints_the_exact_resume_command(tmp_path, monkeypatch, capsys):
    draw = run_command.ProgressBar.__call__

    def abort_after_two(self, done, total, point):
        draw(self, done, total, point)
        if done == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, caught by the run's handler

    monkeypatch.setattr(run_command.ProgressBar, "__call__", abort_after_two)
    out_dir = tmp_path / "my runs"  # a space: the command must quote the path
    assert main(["run", "quick", "--out", str(out_dir), "--no-report"]) == 3
    out = capsys.readouterr().out
    assert "status:        aborted" in out
    (path,) = out_dir.glob("*.h5")
    (line,) = [line for line in out.splitlines() if line.startswith("to resume:")]
    command = line.removeprefix("to resume:").strip()
    assert shlex.split(command) == ["stm-andreev", "run", "--resume", str(path)]

    monkeypatch.setattr(run_command.ProgressBar, "__call__", draw)
    assert main([*shlex.split(command)[1:], "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "status:        finished" in out and "to resume" not in out
    with RunReader(path) as run:
        assert run.status == "finished" and len(run.ledger) == 5


def test_a_station_file_given_as_the_plan_is_named_as_one(capsys, tmp_path):
    code = main(["run", "configs/simulated-tcp.yaml", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: configs/simulated-tcp.yaml is a station file, not a plan")
    assert "stm-andreev run [PLAN] --station configs/simulated-tcp.yaml" in err
    assert not list(tmp_path.iterdir())


def test_a_plan_file_given_as_the_station_is_named_as_one(capsys, tmp_path):
    code = main(["run", "--station", "configs/plans/quick.yaml", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: configs/plans/quick.yaml is a plan file, not a station")
    assert "stm-andreev run configs/plans/quick.yaml [--station STATION]" in err


def test_a_plan_over_the_limits_is_named_by_its_file(capsys, tmp_path):
    plan = tmp_path / "hot.yaml"
    plan.write_text("name: paper-inO2\nkind: temperature_sweep\ntemperatures_K: [0.1, 2.5]\n"
                    "setpoint_A: 1e-6\n")
    code = main(["run", str(plan), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and str(plan) in err and "file paper-inO2" not in err


def test_the_cooldown_line_steps_around_log_records_too(stderr_handler, monkeypatch):
    from stm_andreev.commands.cooldown import _Progress

    stream, _ = stderr_handler
    monkeypatch.setattr("sys.stderr", stream)
    progress = _Progress(VirtualClock(), min_interval_s=0.0)
    reading = SimpleNamespace(control_K=4.2, film_R_ohm=1234.0)
    progress(reading)
    logging.getLogger("stm_andreev.engine").warning("heater range refused")
    progress(reading)
    progress.finish()
    shown = screen(stream.getvalue())
    assert shown == ["WARNING stm_andreev.engine: heater range refused",
                     "cooldown: 2 readings, 4.2 K, film 1234 ohm, station 0h00m"]
