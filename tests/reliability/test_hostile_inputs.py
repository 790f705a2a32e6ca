"""Small inputs that used to cost unbounded time or memory, or end in a traceback.

Found: a YAML alias bomb took 110 s and 3.2 GB; a grid of 10^7 spectra took check-config
334 s (and "limits: OK"), then `run` died of MemoryError; a 1e-300 A/s ramp (10^258 days)
passed; names with '/', NUL or 300 characters passed check-config and died in `run`; a
5000-digit integer, 5000 nested '[', /dev/zero or a FIFO as a config file gave tracebacks
or never returned. Each is now refused with a message. Memory is asserted by outcome
(growth of the process's peak resident memory during the refusal), time by the bounded subprocess waits, never by wall time.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
from pathlib import Path

import pytest
import yaml

from stm_andreev.cli import main as cli_main
from stm_andreev.config import load_station
from stm_andreev.config.yaml_file import parse_yaml

from .hostile_helpers import run_cli

pytestmark = [pytest.mark.faults, pytest.mark.hostile]

MEMORY_BOUND_B = 300 * 1024 * 1024
GOOD_STEP = """
steps:
  - kind: single_spectrum
    setpoint_A: 1.0e-9
"""


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "name: bomb\n" + "\n".join(lines) + "\nsteps: *a9\n"


def grid_of_10_million() -> str:
    positions = ", ".join(f"[{i * 1e-9:.3e}, 0.0]" for i in range(1000))
    return ("name: huge-grid\nsteps:\n  - kind: overnight_grid\n    temperatures_K: [0.065]\n"
            "    setpoints_A: {start: 1.0e-9, stop: 1.0e-6, n: 100}\n    repeats: 100\n"
            f"    positions_m: [{positions}]\n")


PLANS = {
    "alias bomb": (alias_bomb(), "alias"),
    "5000 nested [": ("name: n\nsteps: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    "5000-digit integer": ("name: n\nsteps:\n  - kind: single_spectrum\n    setpoint_A: "
                           + "9" * 5000 + "\n", "cannot be read"),
    "NUL byte": ("name: a\x00b\n" + GOOD_STEP, "not valid YAML"),
    "name with NUL escape": ('name: "a\\0b"\n' + GOOD_STEP, "name: contains"),
    "name with ../": ("name: ../../etc/x\n" + GOOD_STEP, "name: contains '/'"),
    "name with /": ("name: a/b\n" + GOOD_STEP, "name: contains '/'"),
    "name of 300 characters": (f"name: {'x' * 300}\n" + GOOD_STEP, "300 characters"),
    "grid of 10^7 spectra": (grid_of_10_million(), "max_plan_spectra"),
}


def _cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(list(args))
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("case", list(PLANS), ids=list(PLANS))
def test_hostile_plan_is_refused_by_check_config_and_run(tmp_path, outcome, case):
    text, expected = PLANS[case]
    outcome.fault, outcome.instrument = f"hostile plan file: {case}", "config"
    outcome.spectra_planned = 0
    outcome.injections = 1
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    _cli("check-config", "simulated", "quick")  # imports done before measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    code, output = _cli("check-config", "simulated", str(plan))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before  # growth of peak
    assert code == 2, output  # check-config refuses as run does
    assert expected in output and "Traceback" not in output, output[-2000:]
    assert peak < MEMORY_BOUND_B, f"{peak / 1e6:.0f} MB"
    out = tmp_path / "runs"
    code, output = _cli("run", str(plan), "--out", str(out), "--no-report", "--quiet")
    assert code == 2 and expected in output, output[-2000:]
    assert not list(out.glob("*.h5")) if out.exists() else True
    outcome.happened = f"check-config and run exit 2 before any instrument: " \
                       f"'...{expected}...'; peak memory grew {peak / 1e6:.0f} MB"


def test_a_ramp_of_1e_300_A_per_s_is_refused(tmp_path, outcome):
    """A station whose setpoint ramp makes the quick plan last 10^258 days."""
    outcome.fault, outcome.instrument = "setpoint ramp 1e-300 A/s (10^258 days)", "config"
    outcome.spectra_planned = 0
    outcome.injections = 1
    base = load_station("simulated")
    data = parse_yaml(base.source_text, "simulated.yaml").data
    data["limits"]["setpoint_ramp_A_per_s"] = 1e-300
    station = tmp_path / "station.yaml"
    station.write_text(yaml.safe_dump(data))
    code, output = _cli("check-config", str(station), "quick")
    assert code == 2 and "max_plan_duration_days" in output, output[-2000:]
    code, output = _cli("run", "quick", "--station", str(station), "--out",
                        str(tmp_path / "runs"), "--no-report", "--quiet")
    assert code == 2 and "max_plan_duration_days" in output, output[-2000:]
    outcome.happened = "check-config and run exit 2: 'the plan takes at least 1e+258 " \
                       "days; limits.max_plan_duration_days is 60'"


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory", "2 MB file"])
def test_a_config_file_that_is_not_a_small_regular_file_is_refused(tmp_path, outcome, kind):
    """Run in a child process: on the old code /dev/zero never ended and a FIFO blocked."""
    outcome.fault, outcome.instrument = f"config file is a {kind}", "config"
    outcome.spectra_planned = 0
    outcome.injections = 1
    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "plan.yaml"
        os.mkfifo(path)
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "plan.yaml"
        path.write_text("name: big\n" + "#" * 2_000_000 + "\n" + GOOD_STEP)
    proc = run_cli("check-config", "simulated", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(path) in proc.stderr and "Traceback" not in proc.stderr
    outcome.happened = f"refused, exit 1: '{proc.stderr.strip().splitlines()[-1].strip()}'"


def test_two_runs_in_the_same_second_get_two_files(tmp_path, outcome):
    """Run-file names have a one-second stamp: the second run used to die with
    RunFileExistsError; now it gets a suffix."""
    from stm_andreev.commands.run import _create_unique
    from stm_andreev.storage import RunWriter

    outcome.fault, outcome.instrument = "two runs started in the same second", "file"
    outcome.spectra_planned = 0
    outcome.injections = 1
    kwargs = dict(n_bias=3, n_planned=1, metadata={}, station_text="s", plan_text="p",
                  snapshot={})
    first = _create_unique(RunWriter.create, tmp_path, "20261206-040000_quick", **kwargs)
    second = _create_unique(RunWriter.create, tmp_path, "20261206-040000_quick", **kwargs)
    first.close()
    second.close()
    assert first.path.name == "20261206-040000_quick.h5"
    assert second.path.name == "20261206-040000_quick-2.h5"
    outcome.happened = "second run file named ...-2.h5; both runs go on"
