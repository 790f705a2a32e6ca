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
    assert "2. temperature sweep at 17 temperatures 65 mK..1.8 K at setpoint 4.3 uA" in out
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
def test_bad_files_exit_2_with_the_problem_on_stderr(capsys, argv, key):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ")
    assert key in err
    assert "Traceback" not in err


@pytest.mark.parametrize("station, plan", [("nosuch.yaml", None), ("simulated", "nosuch.yaml")])
def test_a_missing_file_is_refused_as_run_refuses_it(capsys, tmp_path, station, plan):
    """Same exit status (2) and the same `error:` line as `stm-andreev run`."""
    code, out, err = run(capsys, station, *([plan] if plan else []))
    run_argv = ["run", plan or "quick", "--station", station, "--out", str(tmp_path)]
    run_code = main(run_argv)
    _, run_err = capsys.readouterr()
    assert code == run_code == 2 and out == ""
    assert err == run_err
    assert err.startswith("error: Cannot read configuration file nosuch.yaml")


def test_plan_over_the_limits_exits_2_after_the_summary_naming_the_files(capsys, tmp_path):
    plan = tmp_path / "hot.yaml"
    # its name: says something else than the file: the message must name the file given
    plan.write_text("name: paper-inO2\nkind: temperature_sweep\ntemperatures_K: [0.1, 2.5]\n"
                    "setpoint_A: 5.5e-6\n")
    code, out, err = run(capsys, "simulated", str(plan))
    assert code == 2
    assert f"Plan 'paper-inO2' ({plan})" in out  # the summary still helps to see what was asked
    assert err.startswith(f"error: plan file {plan} exceeds the limits of station file ")
    assert "configs/simulated.yaml (2 problem(s))" in err
    assert "temperatures_K: 2.5 K exceeds limits.temperature_ceiling_K 2 K" in err
    assert "setpoint_A: setpoint 5.5 uA exceeds limits.max_setpoint_A 5 uA" in err


@pytest.mark.parametrize("argv, suggestion", [
    (("simulated", "papr-inO2"), "did you mean 'paper-inO2'?"),
    (("simulated", "overnight-grd"), "did you mean 'overnight-grid'?"),
    (("simulatd",), "did you mean 'simulated'?"),
])
def test_a_misspelt_name_suggests_the_near_match(capsys, argv, suggestion):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert suggestion in err and "available: " in err


def test_a_plan_name_given_as_the_station_says_it_is_a_plan(capsys):
    code, _, err = run(capsys, "paper-inO2")
    assert code == 2
    assert "'paper-inO2' is a plan (" in err and "did you mean" not in err


@pytest.mark.parametrize("argv, first, hint", [
    (("configs/plans/quick.yaml",), "error: configs/plans/quick.yaml is a plan file, not a station",
     "a plan file goes second: stm-andreev check-config STATION configs/plans/quick.yaml"),
    (("simulated", "configs/simulated-tcp.yaml"),
     "error: configs/simulated-tcp.yaml is a station file, not a plan",
     "a station file goes first: stm-andreev check-config configs/simulated-tcp.yaml [PLAN]"),
])
def test_a_file_of_the_other_kind_is_named_as_such(capsys, argv, first, hint):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(first) and hint in err


def test_missing_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check-config"])
    assert info.value.code == 2
