"""`stm-andreev check-config STATION [PLAN]`: exit codes and what it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from stm_andreev.cli import main

BAD = Path(__file__).resolve().parent.parent / "configs_bad"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["check-config", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_good_station_and_plan_summary(capsys):
    code, out, err = run(capsys, "simulated", "paper-inO2")
    assert code == 0 and err == ""
    assert "Station 'simulated-InO-2'" in out
    for name, driver in (("lockin", "sr830"), ("stm", "nanonis"), ("fridge", "lakeshore372")):
        assert any(line.split()[:3] == [name, driver, "simulated"] for line in out.splitlines())
    assert "feedback -> stm" in out and "|bias| <= 5 mV" in out and "T <= 2 K" in out
    assert "1. setpoint sweep at 65 mK: 31 setpoints 1 nA..1 uA" in out
    assert "2. temperature sweep at 17 temperatures 65 mK..1.8 K at setpoint 1.9 uA" in out
    assert "total: 48 spectra, 14448 bias points; estimated duration at least 2 h 26 min" in out
    assert "limits: OK" in out


def test_real_station_alone(capsys):
    code, out, _ = run(capsys, "configs/lab-example.yaml")
    assert code == 0
    assert "real instruments, wall clock" in out and "GPIB0::8::INSTR" in out
    assert "Plan" not in out


@pytest.mark.parametrize("argv, key", [
    ((str(BAD / "station-role-names-missing-instrument.yaml"),), "roles.lockin"),
    ((str(BAD / "station-python-object-tag.yaml"),), "output_dir"),
    (("simulated", str(BAD / "plan-bias-start-equals-stop.yaml")), "bias_stop_V"),
    (("simulated", str(BAD / "plan-empty.yaml")), "file is empty"),
    (("no-such-station",), "available: "),
])
def test_bad_files_exit_1_with_the_problem_on_stderr(capsys, argv, key):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert key in err
    assert "Traceback" not in err


def test_plan_over_the_limits_exits_1_after_the_summary(capsys, tmp_path):
    plan = tmp_path / "hot.yaml"
    plan.write_text("kind: temperature_sweep\ntemperatures_K: [0.1, 2.5]\nsetpoint_A: 2.2e-6\n")
    code, out, err = run(capsys, "simulated", str(plan))
    assert code == 1
    assert "Plan 'hot'" in out  # the summary still helps to see what was asked
    assert "exceeds the limits of station 'simulated-InO-2' (2 problem(s))" in err
    assert "temperatures_K: 2.5 K exceeds limits.temperature_ceiling_K 2 K" in err
    assert "setpoint_A: setpoint 2.2 uA exceeds limits.max_setpoint_A 2 uA" in err


def test_missing_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check-config"])
    assert info.value.code == 2
