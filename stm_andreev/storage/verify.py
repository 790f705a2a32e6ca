"""Checking a run file in bounded time: structure, checksums, ledger; which spectra are intact.

A damaged HDF5 file (a copy cut short, a flipped byte) can make the HDF5 library block or loop
inside a read. The checks therefore run in a child process (``python -m
stm_andreev.storage.verify FILE``) that :func:`verify_run_file` kills after a timeout, so a
batch over a lab's archive always ends, with a verdict naming the file.

What is checked: the HDF5 signature; that the file opens read-only as a run file of this
format (nothing is ever written); the ledger (indices in the plan, none twice, every confirmed
row present); every confirmed row of every spectrum dataset and per-spectrum column, read
through HDF5's Fletcher32 checksums (one per spectrum chunk, one per 64 table rows), so a
flipped byte in stored data is a read error here, never a plausible wrong number; the event
log and the stored station/plan text. Files written before checksums were added are read
as they are and the verdict says so.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Wall seconds a check may take before the file is declared unreadable (a hang in HDF5), plus
#: VERIFY_S_PER_MB per MB of file, counted from when the checking process is ready.
VERIFY_TIMEOUT_S = 30.0
VERIFY_S_PER_MB = 0.05  # reading every row through its checksum: ~20 MB/s is slow
#: Wall seconds the checking process may take to start (Python, numpy, HDF5) on a busy machine.
STARTUP_TIMEOUT_S = 120.0
READY = "ready"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# Verdict states
INTACT = "intact"  # every confirmed spectrum and the file's structure read back cleanly
DAMAGED = "damaged"  # a run file, but some stored data fail their checks (see ``damaged``)
NOT_A_RUN_FILE = "not a run file"  # not HDF5, or HDF5 of another program
UNREADABLE = "unreadable"  # HDF5 cannot open or read it (cut short, header damaged, hangs)
MISSING = "missing"


@dataclass
class Verdict:
    """What :func:`verify_run_file` found in one file."""

    path: str
    state: str
    message: str
    status: str = ""  # the run status stored in the file ("finished", "aborted", ...)
    n_confirmed: int = 0  # rows the ledger confirms
    intact: list[int] = field(default_factory=list)  # point indices whose spectrum is intact
    damaged: list[int] = field(default_factory=list)  # rows that failed a check
    notes: list[str] = field(default_factory=list)
    checksums: bool = True  # the spectra datasets carry Fletcher32 checksums

    @property
    def ok(self) -> bool:
        return self.state == INTACT

    def describe(self) -> str:
        """One line for the terminal, naming the file."""
        text = f"{self.path}: {self.state}: {self.message}"
        if self.notes:
            text += " (" + "; ".join(self.notes) + ")"
        return text


def missing_verdict(path: str | os.PathLike[str]) -> Verdict | None:
    """The verdict for a path that leads to no file (missing, a dangling symbolic link, a loop
    of links), or None when it leads to one."""
    name = str(path)
    try:
        os.stat(path)
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Verdict(name, MISSING, "a loop of symbolic links, leading to no file")
        if not os.path.islink(path):
            return Verdict(name, MISSING, "no such file")
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return Verdict(name, MISSING, f"a symbolic link to {target}, which does not exist")


def _chunk_rows(ds) -> int:
    return int(ds.chunks[0]) if ds.chunks else max(int(ds.shape[0]), 1)


def _check_rows(ds, n: int, bad: set[int]) -> None:
    """Read rows 0..n-1 of ``ds`` chunk by chunk; add rows of chunks that fail to ``bad``."""
    step = _chunk_rows(ds)
    for start in range(0, n, step):
        stop = min(start + step, n)
        try:
            ds[start:stop]
        except Exception:
            bad.update(range(start, stop))


_TRUNCATED = "truncated file"


def open_for_reading(path: str | os.PathLike[str]):
    """The file opened read-only, never writing to it: as a closed file first, for HDF5's
    checks of a closed file (a file cut short is named at once, and a damaged metadata block
    fails on its first read); with SWMR if a writer has it open (or died holding it), whose
    reads skip the size check and retry failed metadata reads. A file cut short is not retried."""
    import h5py

    try:
        return h5py.File(path, "r", libver="latest", locking=False)
    except Exception as exc:
        if _TRUNCATED in str(exc):
            raise
        return h5py.File(path, "r", libver="latest", swmr=True, locking=False)


def check(path: str | os.PathLike[str]) -> Verdict:
    """The checks, in this process (may block on a damaged file: use :func:`verify_run_file`)."""
    import numpy as np

    from .layout import (
        CONFIG,
        DATA,
        EVENTS,
        FORMAT_NAME,
        FORMAT_VERSION,
        LEDGER,
        POINTS,
        SIGMA_DATASET,
        SPECTRUM_DATASETS,
        STATUS,
    )

    p = Path(path)
    name = str(p)
    missing = missing_verdict(p)
    if missing is not None:
        return missing
    if not p.is_file():
        return Verdict(name, NOT_A_RUN_FILE, "not a regular file")
    with open(p, "rb") as f:
        head = f.read(8)
    if head != HDF5_SIGNATURE:
        return Verdict(name, NOT_A_RUN_FILE, "not an HDF5 file (no HDF5 signature at its start)")
    try:
        file = open_for_reading(p)
    except Exception as exc:
        if _TRUNCATED in str(exc):
            return Verdict(name, UNREADABLE, f"cut short: {_short(exc)}")
        return Verdict(name, UNREADABLE, f"HDF5 cannot open it ({_short(exc)}); cut short "
                       "or its header is damaged, or another program has it open for writing")
    with file:
        try:
            fmt = file.attrs.get("stm_andreev_format")
            version = int(file.attrs.get("stm_andreev_format_version", -1))
        except Exception as exc:
            return Verdict(name, UNREADABLE, f"its root attributes cannot be read ({_short(exc)})")
        if fmt != FORMAT_NAME:
            return Verdict(name, NOT_A_RUN_FILE, "HDF5, but not an stm_andreev run file")
        if version != FORMAT_VERSION:
            return Verdict(name, NOT_A_RUN_FILE, f"run-file format version {version}; this "
                           f"software reads version {FORMAT_VERSION}")
        try:
            n_planned = int(file["entry/n_planned"][()])
            status = bytes(file[STATUS][()]).decode("utf-8", errors="replace")
            ledger = file[LEDGER][()].astype(np.int64)
            spectra = [file[DATA][c.name] for _, c in (*SPECTRUM_DATASETS, SIGMA_DATASET)
                       if c.name in file[DATA] or c is not SIGMA_DATASET[1]]
            points = file[POINTS]
            columns = [points[str(n)] for n in points.attrs["columns"]]
        except Exception as exc:
            return Verdict(name, UNREADABLE, f"its structure or ledger cannot be read "
                           f"({_short(exc)})")
        verdict = Verdict(name, INTACT, "", status=status, n_confirmed=len(ledger))
        problems: list[str] = []
        if ((ledger < 0) | (ledger >= n_planned)).any():
            problems.append(f"the ledger holds point indices outside 0..{n_planned - 1}")
        if len(np.unique(ledger)) != len(ledger):
            problems.append("the ledger lists a point twice")
        n = len(ledger)
        shortest = min(ds.shape[0] for ds in (*spectra, *columns))
        if shortest < n:
            problems.append(f"the ledger confirms {n} rows but only {shortest} are stored")
        bad: set[int] = set(range(min(shortest, n), n))
        verdict.checksums = all(ds.fletcher32 for ds in spectra)
        if not verdict.checksums:
            verdict.notes.append("written without checksums: damage to stored values cannot "
                                 "be detected")
        for ds in (*spectra, *columns):
            _check_rows(ds, min(n, ds.shape[0]), bad)
        for what, read in (("event log", lambda: [ds[()] for ds in file[EVENTS].values()]),
                           ("stored station/plan text",
                            lambda: [ds[()] for ds in file[CONFIG].values()])):
            try:
                read()
            except Exception as exc:
                problems.append(f"the {what} cannot be read ({_short(exc)})")
        unreadable = _unreadable_metadata(file)
        if unreadable:
            problems.append(f"{len(unreadable)} attributes or metadata datasets cannot be read "
                            f"(first: {unreadable[0]})")
        valid = [(row, int(p)) for row, p in enumerate(ledger) if 0 <= p < n_planned]
        verdict.damaged = sorted(bad)
        verdict.intact = sorted(p for row, p in valid if row not in bad)
        if bad:
            problems.insert(0, f"{len(bad)} of {n} confirmed spectra fail their checks "
                            f"(rows {_ranges(sorted(bad))})")
        if problems:
            verdict.state = DAMAGED
            verdict.message = "; ".join(problems) + f"; {len(verdict.intact)} spectra intact"
        else:
            verdict.message = f"{n} spectra intact, status {status!r}"
        return verdict


#: Contiguous datasets up to this size are read whole by the metadata walk (they are names,
#: units, NeXus fields: bytes to kilobytes); chunked ones are the rows checked above.
METADATA_READ_LIMIT_BYTES = 1 << 20


def _unreadable_metadata(file) -> list[str]:
    """Every attribute of every object, and every small contiguous dataset, read once; the
    ones that fail, as 'path: error'. Damage to HDF5's heap of variable-length strings (units,
    NeXus names, the metadata the writer reads back on resume) shows here and nowhere else."""
    import h5py

    failed: list[str] = []

    def check_object(name: str, obj) -> None:
        where = name or "/"
        try:
            keys = list(obj.attrs.keys())
        except Exception as exc:
            failed.append(f"{where} attributes: {_short(exc, 80)}")
            return
        for key in keys:
            try:
                obj.attrs[key]
            except Exception as exc:
                failed.append(f"{where}@{key}: {_short(exc, 80)}")
        if isinstance(obj, h5py.Dataset) and obj.chunks is None:
            try:
                if obj.size * max(obj.dtype.itemsize, 1) <= METADATA_READ_LIMIT_BYTES:
                    obj[()]
            except Exception as exc:
                failed.append(f"{where}: {_short(exc, 80)}")

    check_object("", file)
    try:
        file.visititems(check_object)
    except Exception as exc:
        failed.append(f"the group structure: {_short(exc, 80)}")
    return failed


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _ranges(rows: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5' (at most 10 ranges shown)."""
    out: list[str] = []
    start = prev = None
    for r in rows:
        if start is None:
            start = prev = r
        elif r == prev + 1:
            prev = r
        else:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = r
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(out[:10]) + (", ..." if len(out) > 10 else "")


def check_timeout_s(path: str | os.PathLike[str], timeout_s: float = VERIFY_TIMEOUT_S) -> float:
    """Wall seconds the check of ``path`` may take: ``timeout_s`` plus
    :data:`VERIFY_S_PER_MB` per MB, so a large intact file is read to its end, not declared
    unreadable (every stored row is read through its checksum)."""
    try:
        size_mb = os.stat(path).st_size / 1e6
    except OSError:
        size_mb = 0.0
    return timeout_s + VERIFY_S_PER_MB * size_mb


def _child_argv(path: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "stm_andreev.storage.verify", os.fspath(path)]


def verify_run_file(path: str | os.PathLike[str], timeout_s: float = VERIFY_TIMEOUT_S,
                    *, startup_timeout_s: float = STARTUP_TIMEOUT_S) -> Verdict:
    """:func:`check` in a child process, killed after :func:`check_timeout_s` wall seconds.

    The clock for the file starts when the child says it is ready (Python and HDF5 loaded):
    on a loaded machine the start-up alone can take many seconds, and it says nothing about
    the file. A child that does not get ready within ``startup_timeout_s`` is killed and the
    verdict says the file was not checked."""
    name = str(path)
    missing = missing_verdict(path)
    if missing is not None:
        return missing
    limit = check_timeout_s(path, timeout_s)
    proc = subprocess.Popen(
        _child_argv(path),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines: list[str] = []
    started = threading.Event()

    def pump() -> None:  # drains the pipe, so a long verdict never blocks the child
        for line in proc.stdout:
            lines.append(line)
            started.set()
        started.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not started.wait(startup_timeout_s):
            return Verdict(name, UNREADABLE, f"not checked: the checking process did not "
                           f"start within {startup_timeout_s:g} s (machine overloaded?)")
        if lines and lines[0].strip() == READY:
            try:
                proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                return Verdict(name, UNREADABLE, f"reading it did not finish within {limit:g} s "
                               "(HDF5 blocked on damaged data)")
        code = proc.wait()
        reader.join()
        out = [line for line in lines if line.strip() and line.strip() != READY]
        if code != 0 or not out:
            why = f"signal {-code}" if code < 0 else f"exit {code}"
            return Verdict(name, UNREADABLE, f"reading it crashed the HDF5 library ({why})")
        return Verdict(**json.loads(out[-1]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        proc.stdout.close()


def _main(argv: list[str]) -> int:
    import logging
    import warnings

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    import h5py  # noqa: F401  (loaded before the parent's clock for the file starts)
    import numpy  # noqa: F401

    from . import layout  # noqa: F401

    print(READY, flush=True)
    try:
        verdict = check(argv[0])
    except Exception as exc:  # anything HDF5 throws at a damaged file is a verdict
        verdict = Verdict(argv[0], UNREADABLE, f"reading it failed ({_short(exc)})")
    print(json.dumps(asdict(verdict)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
