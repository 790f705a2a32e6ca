"""Run files behind symbolic links and on read-only media.

Found: `--resume` of a run file on a read-only disk printed a traceback (OSError EROFS from the
writer lock); a dangling symbolic link or a loop of links was called "no such file"; `run
--out` at a dangling link said "File exists". Now: a link to a run file works for every
command and `--resume` continues the file it points to (its control file and report carry that
name); a dangling link and a loop are named as such; a run file on a read-only disk is
verified and analysed as usual, `--resume` is refused before anything is written with a
message saying how to go on (`--into NEW` works from read-only media); `run --out` on a
read-only disk is refused before the station is built.
"""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from stm_andreev.storage import RunWriter, UnwritableLocationError

from ..ro_mount import read_only_mount
from .hostile_helpers import run_cli

pytestmark = [pytest.mark.faults, pytest.mark.hostile]


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """A finished `stm-andreev run quick` file (its station and plan let --resume continue)."""
    out = tmp_path_factory.mktemp("quick")
    proc = run_cli("run", "quick", "--out", str(out), "--no-report", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("*.h5")
    return path


def _answers(path) -> dict[str, object]:
    return {cmd: run_cli(*args, str(path), *extra) for cmd, args, extra in (
        ("verify", ("verify",), ()),
        ("analyze", ("analyze",), ()),
        ("--resume", ("run", "--resume"), ("--no-report", "--quiet")))}


@pytest.mark.parametrize("kind", ["to a run file", "dangling", "loop"])
def test_a_run_file_behind_a_symbolic_link(quick_run, tmp_path, outcome, kind):
    real = tmp_path / "real.h5"
    shutil.copyfile(quick_run, real)
    link = tmp_path / "link.h5"
    if kind == "to a run file":
        link.symlink_to(real.name)
    elif kind == "dangling":
        link.symlink_to("gone.h5")
    else:
        link.symlink_to("other.h5")
        (tmp_path / "other.h5").symlink_to(link.name)
    outcome.fault, outcome.instrument = f"run file is a symbolic link ({kind})", "file"
    outcome.injections, outcome.spectra_planned = 3, 0
    answers = _answers(link)
    for cmd, proc in answers.items():
        text = proc.stdout + proc.stderr
        assert "Traceback" not in text, (cmd, text)
    if kind == "to a run file":
        assert [p.returncode for p in answers.values()] == [0, 0, 0], answers
        assert f"note: {link} is a symbolic link; resuming {real}" in answers["--resume"].stderr
        assert f"run file:      {real}" in answers["--resume"].stdout
        assert link.is_symlink()  # the link was followed, not replaced by a file
        outcome.happened = ("verify, analyze and --resume follow it (exit 0); --resume names "
                            "the real file and continues it there; the link stays a link")
        return
    expected = ("a symbolic link to gone.h5, which does not exist" if kind == "dangling"
                else "a loop of symbolic links")
    assert [p.returncode for p in answers.values()] == [1, 1, 2], answers
    for cmd, proc in answers.items():
        assert f"{link}: missing: {expected}" in proc.stdout + proc.stderr, (cmd, proc.stderr)
    assert not (tmp_path / "gone.h5").exists()
    outcome.happened = (f"verify/analyze exit 1, --resume exit 2, each naming the link: "
                        f"'FILE: missing: {expected}...'")


@pytest.mark.parametrize("kind", ["to a directory", "dangling"])
def test_run_out_at_a_symbolic_link(tmp_path, outcome, kind):
    target = tmp_path / "target"
    link = tmp_path / "runs"
    link.symlink_to(target.name)
    if kind == "to a directory":
        target.mkdir()
    outcome.fault, outcome.instrument = f"run --out at a symbolic link ({kind})", "disk"
    outcome.injections = 1
    proc = run_cli("run", "quick", "--out", str(link), "--no-report", "--quiet")
    assert "Traceback" not in proc.stderr
    if kind == "to a directory":
        outcome.spectra_planned = 5
        assert proc.returncode == 0, proc.stderr
        stored = list(target.glob("*.h5"))
        assert len(stored) == 1
        outcome.spectra_stored = 5
        outcome.happened = "the run file is written in the directory the link points to"
        return
    outcome.spectra_planned = 0
    assert proc.returncode == 2
    assert (f"error: cannot write run files to {link}: a symbolic link to target, which "
            "does not exist") in proc.stderr
    assert not target.exists()  # nothing created through the dangling link
    outcome.happened = ("refused before any instrument, exit 2: 'cannot write run files to "
                        "DIR: a symbolic link to target, which does not exist'")


@pytest.fixture
def read_only_copy(quick_run, tmp_path):
    """``quick_run`` copied onto a read-only tmpfs (skipped where mounting is not allowed)."""
    with read_only_mount(tmp_path / "ro",
                         lambda d: shutil.copyfile(quick_run, d / "run.h5")) as where:
        if isinstance(where, str):
            pytest.skip(where)
        yield where / "run.h5"


def test_run_on_a_read_only_disk_is_refused_before_anything_moves(tmp_path, outcome):
    with read_only_mount(tmp_path / "ro") as where:
        if isinstance(where, str):
            pytest.skip(where)
        outcome.fault, outcome.instrument = "output on a read-only disk (ro mount)", "disk"
        outcome.injections, outcome.spectra_planned = 1, 0
        proc = run_cli("run", "quick", "--out", str(where / "today"), "--no-report", "--quiet")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert (f"error: cannot write run files to {where / 'today'}: Read-only file system"
                in proc.stderr)
        assert not os.listdir(where)
        with pytest.raises(UnwritableLocationError, match=str(where)):
            RunWriter.create(where / "run.h5", n_bias=3, n_planned=1, metadata={},
                             station_text="", plan_text="", snapshot={})
        outcome.happened = ("refused before the station is built, exit 2: 'cannot write run "
                            "files to DIR: Read-only file system'; nothing created")


def test_a_run_file_on_a_read_only_disk(read_only_copy, tmp_path, outcome):
    outcome.fault, outcome.instrument = "run file on a read-only disk (ro mount)", "file"
    outcome.injections, outcome.spectra_planned = 1, 5
    before = _digest(read_only_copy)
    answers = _answers(read_only_copy)
    assert answers["verify"].returncode == 0, answers["verify"].stdout
    assert answers["analyze"].returncode == 0, answers["analyze"].stderr
    assert len([line for line in answers["analyze"].stdout.splitlines()
                if line.startswith(f"{read_only_copy}[")]) == 5
    resume = answers["--resume"]
    assert resume.returncode == 2 and "Traceback" not in resume.stderr
    assert (f"error: cannot resume: {read_only_copy}: intact, but it cannot be written here "
            "(Read-only file system)") in resume.stderr
    assert "--into NEW.h5" in resume.stderr
    with pytest.raises(UnwritableLocationError, match="Read-only file system"):
        RunWriter.resume(read_only_copy)
    new = tmp_path / "continued.h5"
    into = run_cli("run", "--resume", str(read_only_copy), "--into", str(new), "--no-report",
                   "--quiet")
    assert into.returncode == 0, into.stderr
    assert _digest(read_only_copy) == before
    outcome.spectra_stored = 5
    outcome.happened = ("verify and analyze work read-only; --resume refused before any write, "
                        "exit 2, naming the file and '--into NEW'; --into a writable disk "
                        "copied all 5 spectra; file byte for byte unchanged")
