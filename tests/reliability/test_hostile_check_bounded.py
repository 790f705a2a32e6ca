"""The bounded check of a run file is cheap and its watchdog says what happened.

`verify`, `analyze` and `run --resume` of a damaged file answer after one child process that
loads HDF5, not after the analysis or configuration stack (scipy, xarray, matplotlib,
pydantic: many seconds on a loaded machine). The watchdog around the child starts its clock for
the file once the child is ready, scales it with the file's size, and names what happened.
No wall time is asserted (tools/damaged_file_campaign.py measures it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from stm_andreev.storage import verify
from stm_andreev.storage.verify import HDF5_SIGNATURE, UNREADABLE, verify_run_file

pytestmark = [pytest.mark.hostile]

# Each costs 0.1-2 s to import; none is needed to refuse a damaged file.
HEAVY = ("numpy", "scipy", "matplotlib", "xarray", "pandas", "dask", "h5py", "PyQt5",
         "pyqtgraph", "pydantic", "pymeasure")


@pytest.fixture
def damaged(tmp_path):
    """An HDF5 signature followed by junk: HDF5 cannot open it."""
    path = tmp_path / "damaged.h5"
    path.write_bytes(HDF5_SIGNATURE + bytes(range(256)) * 4)
    return path


def test_refusing_a_damaged_file_imports_nothing_heavy(damaged):
    argv_list = [["verify", str(damaged)], ["analyze", str(damaged)],
                 ["run", "--resume", str(damaged)]]
    script = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from stm_andreev import cli
        codes, errors = [], []
        for argv in {argv_list!r}:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                codes.append(cli.main(argv))
            errors.append(out.getvalue() + err.getvalue())
        heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
        print(json.dumps({{"codes": codes, "heavy": heavy, "errors": errors}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["codes"] == [1, 1, 2]
    assert found["heavy"] == []
    for text in found["errors"]:
        assert f"{damaged}: unreadable" in text and "Traceback" not in text


def _fake_child(monkeypatch, code: str) -> None:
    monkeypatch.setattr(verify, "_child_argv", lambda path: [sys.executable, "-c", code])


def test_a_check_that_hangs_after_start_up_is_named_as_a_hang(monkeypatch, damaged):
    _fake_child(monkeypatch, "import time; print('ready', flush=True); time.sleep(600)")
    verdict = verify_run_file(damaged, timeout_s=0.5)
    assert verdict.state == UNREADABLE
    assert verdict.path == str(damaged)
    assert "did not finish within" in verdict.message and "HDF5 blocked" in verdict.message


def test_a_check_that_never_starts_is_not_called_a_damaged_file(monkeypatch, damaged):
    _fake_child(monkeypatch, "import time; time.sleep(600)")
    verdict = verify_run_file(damaged, timeout_s=600, startup_timeout_s=0.5)
    assert verdict.state == UNREADABLE
    assert verdict.message.startswith("not checked: the checking process did not start")


def test_a_long_verdict_is_read_whole(monkeypatch, damaged):
    """A verdict listing 10^5 intact points is larger than a pipe's buffer."""
    record = {"path": str(damaged), "state": "intact", "message": "ok"}
    _fake_child(monkeypatch, f"import json; print('ready', flush=True); "
                             f"print(json.dumps({{**{record!r}, 'intact': list(range(100000))}}))")
    verdict = verify_run_file(damaged, timeout_s=60)
    assert verdict.state == "intact" and len(verdict.intact) == 100_000


def test_a_crashing_check_says_so(monkeypatch, damaged):
    _fake_child(monkeypatch, "import os, signal; print('ready', flush=True); "
                             "os.kill(os.getpid(), signal.SIGSEGV)")
    verdict = verify_run_file(damaged, timeout_s=60)
    assert verdict.state == UNREADABLE and "crashed the HDF5 library (signal 11)" in \
        verdict.message


def test_the_time_allowed_grows_with_the_file(tmp_path):
    small, large = tmp_path / "small.h5", tmp_path / "large.h5"
    small.write_bytes(b"x")
    with open(large, "wb") as f:
        f.truncate(2_000_000_000)  # sparse: 2 GB of file, no disk used
    assert verify.check_timeout_s(small, 30) == pytest.approx(30, abs=0.01)
    assert verify.check_timeout_s(large, 30) == pytest.approx(30 + 2000 * verify.VERIFY_S_PER_MB)


def test_damage_to_the_string_heap_is_found(tmp_path):
    """A flip in HDF5's heap of variable-length strings (units, NeXus names, read back by the
    writer on resume) was called intact by verify, and --resume then failed on it (found by the
    damaged-file campaign at flip-19923)."""
    from .hostile_helpers import run_cli

    proc = run_cli("run", "quick", "--out", str(tmp_path / "run"), "--no-report", "--quiet")
    assert proc.returncode == 0, proc.stderr
    (path,) = (tmp_path / "run").glob("*.h5")
    original = path.read_bytes()
    heaps = [i for i in range(len(original)) if original.startswith(b"GCOL", i)]
    assert heaps
    verdicts = []
    for heap in heaps:  # each collection's signature flipped: none of its strings can be read
        data = bytearray(original)
        data[heap + 1] ^= 0x10
        damaged = tmp_path / f"heap-{heap}.h5"
        damaged.write_bytes(bytes(data))
        verdicts.append(verify_run_file(damaged))
    assert all(v.state != "intact" for v in verdicts), [v.describe() for v in verdicts]
    assert all(str(tmp_path) in v.describe() for v in verdicts)
