"""What `stm-andreev` costs before any command runs, and Ctrl-C while it starts.

No timing is asserted (bench/bench_cli.py measures it): the test checks the cause of a slow
`--help`, i.e. which modules the argument parser drags in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from stm_andreev.cli import main

# Modules that cost ~0.1-2 s to import; none is needed to print help or reject an argument.
HEAVY = ("numpy", "scipy", "matplotlib", "h5py", "PyQt5", "pyqtgraph", "pymeasure", "pydantic")

PARSE_ONLY = [
    ["--help"],
    ["run", "--help"],
    ["analyze", "--help"],
    ["check-config", "--help"],
    ["gui", "--help"],
    ["simulate", "--help"],
    ["cooldown", "--help"],
    ["check-config"],  # missing argument: a usage error
    ["run", "--no-such-option"],
    ["analyze", "x.txt", "--T-K", "-1"],  # a bad value, refused by argparse
]


def _modules_after(argv_list: list[list[str]], heavy: tuple[str, ...] = HEAVY) -> dict:
    script = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from stm_andreev import cli
        codes = []
        for argv in {argv_list!r}:
            with contextlib.redirect_stdout(io.StringIO()), \\
                    contextlib.redirect_stderr(io.StringIO()):
                try:
                    codes.append(cli.main(argv))
                except SystemExit as exc:
                    codes.append(exc.code)
        heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))
        print(json.dumps({{"codes": codes, "heavy": heavy}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_importing_the_cli_imports_nothing_heavy():
    assert _modules_after([])["heavy"] == []


def test_help_and_argument_errors_import_nothing_heavy():
    found = _modules_after(PARSE_ONLY)
    assert found["codes"] == [0] * 7 + [2] * 3
    assert found["heavy"] == []


def test_a_mistyped_or_misplaced_file_is_refused_before_the_engine_loads():
    """The config layer needs numpy and pydantic; the engine, drivers, HDF5, the analysis and
    Qt are imported only once the files are good."""
    found = _modules_after(
        [["run", "papr-inO2"], ["run", "configs/simulated-tcp.yaml"],
         ["check-config", "simulated", "papr-inO2"]],
        heavy=("scipy", "matplotlib", "h5py", "PyQt5", "pyqtgraph", "pymeasure"),
    )
    assert found == {"codes": [2, 2, 2], "heavy": []}


def test_analyze_choices_match_the_analysis():
    from stm_andreev.analysis.inputs import G_UNITS
    from stm_andreev.analysis.io_text import LOCKIN_SIGNS, LOCKIN_USES
    from stm_andreev.commands.analyze import G_UNIT_CHOICES, SIGN_CHOICES, USE_CHOICES

    assert G_UNIT_CHOICES == G_UNITS
    assert (SIGN_CHOICES, USE_CHOICES) == (LOCKIN_SIGNS, LOCKIN_USES)


def test_verify_timeout_default_matches_storage():
    from stm_andreev.commands import verify
    from stm_andreev.storage import verify as storage_verify

    assert verify.VERIFY_TIMEOUT_S == storage_verify.VERIFY_TIMEOUT_S


CTRL_C_AT_START_UP = """
import os, signal, sys, time
import stm_andreev.config

def load_station(*args, **kwargs):
    # A real SIGINT, as from Ctrl-C, while the station file is being read.
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
    raise AssertionError("SIGINT was not delivered")

stm_andreev.config.load_station = load_station
from stm_andreev.cli import main
sys.exit(main(["run", "quick", "--out", sys.argv[1]]))
"""


@pytest.mark.slow
def test_ctrl_c_during_start_up_is_one_line_exit_130(tmp_path):
    result = subprocess.run([sys.executable, "-c", CTRL_C_AT_START_UP, str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
    assert result.stderr.strip() == "stm-andreev: interrupted (Ctrl-C)"
    assert not list(tmp_path.iterdir())  # nothing was created


def test_ctrl_c_in_process_returns_130(monkeypatch, capsys):
    import stm_andreev.config

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stm_andreev.config, "load_station", interrupted)
    assert main(["check-config", "simulated"]) == 130
    out, err = capsys.readouterr()
    assert out == "" and err == "stm-andreev: interrupted (Ctrl-C)\n"
