"""Damaged run files: cut short, one byte flipped, someone else's HDF5, busy, missing.

Found: a run file cut short made `analyze` block for minutes inside HDF5 and `--resume` print
a traceback; one flipped byte could hang both, and flips in stored values were read as if
nothing happened; `--resume` on another program's SWMR file cleared its superblock flags and
opened it read-write before refusing. Now `verify`, `analyze` and `--resume` check the file
read-only in a child process killed after a timeout, the spectra carry Fletcher32 checksums,
and nothing is written to a file before it is proven to be an intact run file of ours.

The damaged copies are those of tools/damaged_file_campaign.py: 3 truncations and 4 flips by
default (fast); STM_HOSTILE_FULL=1 runs the acceptance campaign (20 truncations, 50 flips)
here, and the tool runs it as a user would, with --into, printing a table per case.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from stm_andreev.storage import RunReader
from stm_andreev.storage.layout import DATA, POINTS, SPECTRUM_DATASETS
from stm_andreev.storage.verify import DAMAGED, INTACT, verify_run_file

from .conftest import N_POINTS, dry_run
from .hostile_helpers import run_cli

pytestmark = [pytest.mark.faults, pytest.mark.hostile]

FULL = os.environ.get("STM_HOSTILE_FULL") == "1"
N_TRUNCATIONS = 20 if FULL else 3
N_FLIPS = 50 if FULL else 4
SEED = 20261206
CLI_CASES = None if FULL else 1
CAMPAIGN = Path(__file__).parents[2] / "tools" / "damaged_file_campaign.py"  # variants also fed to analyze and --resume (None: all)

READ_BACK = r"""
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r", libver="latest", swmr=True, locking=False)
rows = json.loads(sys.argv[2])
out = {}
for row in rows:
    out[str(row)] = [float(np.nansum(f["entry/data"][n][row])) for n in json.loads(sys.argv[3])]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> dict:
    """A finished run file of the reliability plan, its bytes and its stored values."""
    run = dry_run(tmp_path_factory.mktemp("finished"))
    assert run.status == "finished" and sorted(run.ledger) == list(range(N_POINTS))
    return _described(run.path)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> dict:
    """A finished run file of `stm-andreev run quick` (it holds a station and plan that
    --resume can continue)."""
    out = tmp_path_factory.mktemp("cli")
    proc = run_cli("run", "quick", "--out", str(out), "--no-report", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("*.h5")
    return _described(path)


def _described(path: Path) -> dict:
    """A finished run file, its bytes, ledger, stored sums and chunk offsets."""
    names = [c.name for _, c in SPECTRUM_DATASETS]
    with h5py.File(path, "r") as f:
        ledger = [int(p) for p in f["entry/ledger"][()]]
        sums = {row: [float(np.nansum(f[DATA][n][row])) for n in names]
                for row in range(len(ledger))}
        chunks = [f[DATA][n].id.get_chunk_info(row).byte_offset
                  for n in names for row in range(len(ledger))]
    return {"path": path, "bytes": path.read_bytes(), "ledger": ledger,
            "sums": sums, "names": names, "chunks": chunks}


def _campaign():
    """tools/damaged_file_campaign.py, whose damaged copies these tests use."""
    spec = importlib.util.spec_from_file_location("damaged_file_campaign", CAMPAIGN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _variants(finished_run) -> list[tuple[str, bytes]]:
    return [(name, content) for name, content, _ in _campaign().variants(
        finished_run["bytes"], finished_run["chunks"], N_TRUNCATIONS, N_FLIPS, SEED)]


def _read_back(path: Path, rows: list[int], names: list[str]) -> dict | None:
    try:
        proc = subprocess.run([sys.executable, "-c", READ_BACK, str(path), json.dumps(rows),
                               json.dumps(names)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)


def test_verify_ends_with_a_verdict_on_every_damaged_copy(finished_run, tmp_path, outcome):
    """Every variant gets a verdict in bounded time (the child is killed after 30 s); a flip
    into a stored spectrum is detected; every spectrum reported intact reads back exactly."""
    outcome.fault, outcome.instrument = "run file cut short or one byte flipped", "file"
    variants = _variants(finished_run)
    outcome.injections = len(variants)
    outcome.spectra_planned = 0
    states: dict[str, int] = {}
    data_flips_caught = 0
    row_of_point = {p: row for row, p in enumerate(finished_run["ledger"])}
    for name, content in variants:
        path = tmp_path / f"{name}.h5"
        path.write_bytes(content)
        verdict = verify_run_file(path)
        states[verdict.state] = states.get(verdict.state, 0) + 1
        assert str(path) in verdict.describe()
        if name.startswith("flip-") and int(name[5:]) in finished_run["chunks"]:
            assert verdict.state != INTACT, f"{name}: a flip in stored data went unnoticed"
            data_flips_caught += 1
        if verdict.state in (INTACT, DAMAGED) and verdict.intact:
            rows = [row_of_point[p] for p in verdict.intact]
            got = _read_back(path, rows, finished_run["names"])
            assert got is not None, f"{name}: spectra reported intact cannot be read"
            for row in rows:
                assert got[str(row)] == finished_run["sums"][row], \
                    f"{name}: row {row} reported intact but differs"
    assert data_flips_caught == min(N_FLIPS // 2, len(finished_run["chunks"]))
    outcome.happened = (f"{len(variants)} damaged copies, each a verdict naming the file: "
                        + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
                        + f"; {data_flips_caught}/{data_flips_caught} flips in stored spectra "
                        "detected; every spectrum reported intact read back exactly")


def test_analyze_and_resume_of_damaged_copies_end_with_a_message(finished_run, tmp_path,
                                                                 outcome):
    outcome.fault, outcome.instrument = "analyze / --resume of a damaged run file", "file"
    outcome.spectra_planned = 0
    variants = _variants(finished_run)
    picked = variants if CLI_CASES is None else (
        [v for v in variants if v[0].startswith("cut-")][:CLI_CASES]
        + [v for v in variants if v[0].startswith("flip-")][:CLI_CASES])
    outcome.injections = len(picked)
    for name, content in picked:
        path = tmp_path / f"{name}.h5"
        path.write_bytes(content)
        before = hashlib.sha256(content).hexdigest()
        analyzed = run_cli("analyze", str(path))
        assert "Traceback" not in analyzed.stderr, analyzed.stderr[-2000:]
        assert analyzed.returncode == 1 and str(path) in analyzed.stderr, (name, analyzed)
        resumed = run_cli("run", "--resume", str(path), "--no-report", "--quiet")
        assert "Traceback" not in resumed.stderr + resumed.stdout, resumed.stderr[-2000:]
        assert resumed.returncode == 2 and str(path) in resumed.stderr, (name, resumed)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before, \
            f"{name}: --resume changed a damaged file"
    outcome.happened = (f"{len(picked)} damaged copies: analyze exit 1 and --resume exit 2, "
                        "each with a message naming the file; files left unchanged")


def test_verify_cli_lists_intact_spectra(finished_run, tmp_path):
    path = tmp_path / "good.h5"
    shutil.copy(finished_run["path"], path)
    ok = run_cli("verify", "--list", str(path))
    assert ok.returncode == 0 and "intact" in ok.stdout
    assert "intact points: 0 1 2 3" in ok.stdout
    offset = finished_run["chunks"][0]  # G_S? the first spectrum dataset, row 0
    flipped = bytearray(finished_run["bytes"])
    flipped[offset] ^= 0x01
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(flipped))
    damaged = run_cli("verify", "--list", str(bad), str(tmp_path / "missing.h5"))
    assert damaged.returncode == 1
    assert f"{bad}: damaged" in damaged.stdout and "intact points: 1 2 3" in damaged.stdout
    assert f"{tmp_path / 'missing.h5'}: missing" in damaged.stdout


def _foreign_swmr_file(path: Path) -> h5py.File:
    f = h5py.File(path, "w", libver="latest")
    ds = f.create_dataset("x", shape=(0,), maxshape=(None,), chunks=(16,), dtype="f8")
    f.swmr_mode = True
    ds.resize((3,))
    ds[:] = [1.0, 2.0, 3.0]
    f.flush()
    return f


@pytest.mark.parametrize("kind", ["foreign-swmr-open", "foreign-closed", "text", "missing",
                                  "empty"])
def test_resume_of_what_is_not_our_run_file_changes_nothing(tmp_path, outcome, kind):
    """--resume of another program's HDF5 file (even while it writes it with SWMR), a text
    file, an empty or a missing file: a message naming it, exit 2, the file byte for byte
    unchanged (it used to clear the superblock flags and open it read-write first)."""
    outcome.fault, outcome.instrument = f"--resume of {kind}", "file"
    outcome.spectra_planned = 0
    outcome.injections = 1
    path = tmp_path / "other.h5"
    writer = None
    if kind.startswith("foreign"):
        writer = _foreign_swmr_file(path)
        if kind == "foreign-closed":
            writer.close()
            writer = None
    elif kind == "text":
        path.write_text("not hdf5\n")
    elif kind == "empty":
        path.write_bytes(b"")
    before = path.read_bytes() if path.exists() else None
    try:
        proc = run_cli("run", "--resume", str(path), "--no-report", "--quiet")
        after = path.read_bytes() if path.exists() else None
        if writer is not None:
            assert list(writer["x"][()]) == [1.0, 2.0, 3.0]
    finally:
        if writer is not None:
            writer.close()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert str(path) in proc.stderr and "cannot resume" in proc.stderr
    assert after == before
    if kind == "foreign-swmr-open":
        with h5py.File(path, "r") as f:  # the foreign writer's values survived
            assert list(f["x"][()]) == [1.0, 2.0, 3.0]
    reason = proc.stderr.strip().splitlines()[-1].replace(str(path), "FILE")
    outcome.happened = f"refused, exit 2: '{reason[:110]}'; file byte for byte unchanged"


def test_resume_of_a_busy_run_file_is_a_message(finished_run, tmp_path, outcome):
    """Another live writer holds the run file: a message, no traceback, file unchanged."""
    from stm_andreev.storage import RunWriter

    outcome.fault, outcome.instrument = "--resume of a run file another writer holds", "file"
    outcome.spectra_planned = 0
    outcome.injections = 1
    path = tmp_path / "busy.h5"
    shutil.copy(finished_run["path"], path)
    holder = RunWriter.resume(path)
    try:
        proc = run_cli("run", "--resume", str(path), "--no-report", "--quiet")
    finally:
        holder.close("finished")
    assert proc.returncode in (2, 3), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert str(path) in proc.stderr
    with RunReader(path) as run:
        assert sorted(int(p) for p in run.ledger) == list(range(N_POINTS))
    reason = proc.stderr.strip().splitlines()[-1].replace(str(path), "FILE")
    outcome.happened = f"refused, exit {proc.returncode}: '{reason[:110]}'"


def _flip_in_row(cli_run, row: int, dataset: str = "G_S") -> bytes:
    """The finished file with one byte flipped inside ``dataset``'s chunk of ``row``."""
    names = cli_run["names"]
    n = len(cli_run["ledger"])
    offset = cli_run["chunks"][names.index(dataset) * n + row]
    flipped = bytearray(cli_run["bytes"])
    flipped[offset + 8] ^= 0x10
    return bytes(flipped)


def test_resume_of_a_damaged_file_names_the_way_to_continue_it(cli_run, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(_flip_in_row(cli_run, 1))
    proc = run_cli("run", "--resume", str(bad), "--no-report", "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"stm-andreev run --resume {bad} --into {tmp_path / 'bad-continued.h5'}" \
        in proc.stderr, proc.stderr


def test_resume_into_a_new_file_keeps_every_intact_spectrum(cli_run, tmp_path, outcome):
    """--resume DAMAGED --into NEW: the intact spectra, ledger, configuration and events are
    copied (checked value for value), the damaged spectrum is measured again, the plan
    finishes in NEW, and DAMAGED is byte for byte unchanged."""
    outcome.fault, outcome.instrument = "--resume of a damaged run file --into a new one", "file"
    outcome.injections = 1
    content = _flip_in_row(cli_run, 1)
    bad, new = tmp_path / "bad.h5", tmp_path / "new.h5"
    bad.write_bytes(content)
    proc = run_cli("run", "--resume", str(bad), "--into", str(new), "--no-report", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    n = len(cli_run["ledger"])
    assert f"copied {n - 1} intact spectra of {bad} into {new}" in proc.stdout
    assert "1 damaged spectra left behind (points " in proc.stdout
    assert bad.read_bytes() == content
    assert verify_run_file(new).state == INTACT
    damaged_point = cli_run["ledger"][1]
    with RunReader(new) as run:
        assert run.status == "finished"
        ledger = [int(p) for p in run.ledger]
        kinds = [e.kind for e in run.events()]
        assert run.metadata["salvaged_from"] == "bad.h5"
    assert sorted(ledger) == list(range(n))
    assert ledger[-1] == damaged_point  # measured again, after the copied ones
    assert kinds.count("start") == 1 and "salvage" in kinds and kinds[-1] == "finish"
    old_rows = {p: r for r, p in enumerate(cli_run["ledger"])}
    with h5py.File(new, "r") as copy, h5py.File(cli_run["path"], "r") as original:
        for new_row, point in enumerate(ledger[:-1]):
            for name in cli_run["names"]:
                assert np.array_equal(copy[DATA][name][new_row],
                                      original[DATA][name][old_rows[point]], equal_nan=True)
            for name in original[POINTS].attrs["columns"]:
                a, b = copy[POINTS][name][new_row], original[POINTS][name][old_rows[point]]
                assert a == b or (np.isnan(a) and np.isnan(b)), (name, a, b)
    outcome.spectra_planned = n
    outcome.spectra_stored = len(set(ledger))
    outcome.happened = (f"refused without --into (the message names it); with --into: "
                        f"{n - 1} intact spectra copied value for value, the damaged one "
                        "measured again, plan finished in the new file; damaged file unchanged")


def test_resume_into_refuses_what_it_cannot_do(cli_run, tmp_path):
    good = tmp_path / "good.h5"
    good.write_bytes(cli_run["bytes"])
    cut = tmp_path / "cut.h5"
    cut.write_bytes(cli_run["bytes"][: len(cli_run["bytes"]) // 2])
    taken = tmp_path / "taken.h5"
    taken.write_text("someone's file\n")
    cases = [
        (("--into", str(tmp_path / "x.h5")), "--into NEW continues the file given with --resume"),
        (("--resume", str(good), "--into", str(taken)), f"{taken}: it exists"),
        (("--resume", str(good), "--into", str(good)), f"{good}: it exists"),
        (("--resume", str(cut), "--into", str(tmp_path / "from-cut.h5")), f"{cut}: unreadable"),
        (("--resume", str(tmp_path / "none.h5"), "--into", str(tmp_path / "y.h5")), "missing"),
    ]
    for args, message in cases:
        proc = run_cli("run", *args, "--no-report", "--quiet")
        assert proc.returncode == 2, (args, proc.stdout + proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr
        assert message in proc.stderr, (args, proc.stderr)
    assert taken.read_text() == "someone's file\n"
    assert not (tmp_path / "from-cut.h5").exists() and not (tmp_path / "y.h5").exists()
    assert good.read_bytes() == cli_run["bytes"]


def test_analyze_of_a_damaged_header_ends(cli_run, tmp_path):
    """Found by the campaign: one byte flipped at offset 425 (the root group's header) held
    `analyze` for over 120 s: it looked for a cooldown file with a SWMR open, whose reads HDF5
    retries, before the bounded check. Now it ends with the verdict."""
    flipped = bytearray(cli_run["bytes"])
    flipped[425] ^= 0x10
    path = tmp_path / "flip-425.h5"
    path.write_bytes(bytes(flipped))
    proc = run_cli("analyze", str(path), timeout=90)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"error: {path}: " in proc.stderr, proc.stderr
