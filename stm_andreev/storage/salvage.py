"""Continuing a damaged run file into a new one: copy every intact spectrum, never write the old.

``stm-andreev run --resume DAMAGED.h5 --into NEW.h5`` checks the damaged file
(:mod:`.verify`), then :func:`salvage_into` copies into ``NEW.h5`` the station and plan text,
the metadata and snapshot, every spectrum whose checksums read back cleanly (all five spectrum
datasets and its row of the per-spectrum table) and every readable event, and adds a
``salvage`` event saying what was left behind. Each copied row is read back from the new file
and compared with the source before the new file is accepted. The run then resumes the new
file: the points not copied (damaged or never measured) are measured in plan order.

The damaged file is opened read-only (and without HDF5's file lock, which would write
nothing but needs no permission either); a lock held on it meanwhile keeps a live writer from
appending to it while it is copied. The copy runs in a child process killed after a timeout,
for the same reason as the check: HDF5 can block on damaged data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import PointIndexError, RecordFieldError, StorageError

#: Wall seconds the copy may take: a base plus time per MB of the damaged file.
SALVAGE_BASE_TIMEOUT_S = 60.0
SALVAGE_S_PER_MB = 2.0


class SalvageError(StorageError):
    """The damaged file could not be copied into a new one (the message says why)."""


@dataclass
class Salvaged:
    """What :func:`salvage_into` copied."""

    source: str
    target: str
    copied: list[int] = field(default_factory=list)  # point indices copied, in ledger order
    left_behind: list[int] = field(default_factory=list)  # ledger points whose rows failed
    events_copied: int = 0
    events_lost: int = 0
    n_planned: int = 0

    def describe(self) -> str:
        text = (f"copied {len(self.copied)} intact spectra of {self.source} into "
                f"{self.target}")
        if self.left_behind:
            text += (f"; {len(self.left_behind)} damaged spectra left behind (points "
                     f"{' '.join(map(str, self.left_behind[:20]))}"
                     f"{' ...' if len(self.left_behind) > 20 else ''}), to be measured again")
        if self.events_lost:
            text += f"; {self.events_lost} events unreadable"
        return text


def _readable_rows(ds, n: int) -> tuple[list[int], dict[int, object]]:
    """Rows 0..n-1 of ``ds`` whose chunk reads back (checksum passes), and their values."""
    step = int(ds.chunks[0]) if ds.chunks else max(n, 1)
    rows: list[int] = []
    values: dict[int, object] = {}
    for start in range(0, n, step):
        stop = min(start + step, n)
        try:
            block = ds[start:stop]
        except Exception:
            continue
        for i in range(start, stop):
            rows.append(i)
            values[i] = block[i - start]
    return rows, values


def _text(value) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def copy_intact(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Salvaged:
    """The copy, in this process (may block on a damaged file: use :func:`salvage_into`)."""
    import numpy as np

    from .layout import (
        CONFIG,
        DATA,
        EVENT_COLUMNS,
        EVENTS,
        LEDGER,
        POINT_COLUMNS,
        POINTS,
        SPECTRUM_DATASETS,
    )
    from .verify import open_for_reading
    from .writer import RunWriter

    src = open_for_reading(source)
    with src:
        n_planned = int(src["entry/n_planned"][()])
        n_bias = int(src["entry/n_bias"][()])
        config = {name: _text(src[CONFIG][name][()]) for name in
                  ("station_text", "plan_text", "snapshot_json", "metadata_json")}
        ledger = src[LEDGER][()].astype(np.int64)
        points = src[POINTS]
        column_names = [_text(n) for n in points.attrs["columns"]]
        standard = {c.name: c for c in POINT_COLUMNS}
        extra = [n for n in column_names if n not in standard]
        n = len(ledger)
        spectra = {arg: src[DATA][c.name] for arg, c in SPECTRUM_DATASETS}
        good = set(range(n))
        values: dict[str, dict[int, object]] = {}
        for name, ds in [*spectra.items(), *((c, points[c]) for c in column_names)]:
            rows, got = _readable_rows(ds, min(n, ds.shape[0]))
            good &= set(rows)
            values[name] = got
        events = {c.name: src[EVENTS][c.name] for c in EVENT_COLUMNS}
        n_events = min(ds.shape[0] for ds in events.values())
        event_rows = set(range(n_events))
        event_values: dict[str, dict[int, object]] = {}
        for name, ds in events.items():
            rows, got = _readable_rows(ds, n_events)
            event_rows &= set(rows)
            event_values[name] = got
    seen: set[int] = set()
    copy_rows = []
    for row in range(n):
        point = int(ledger[row])
        if row in good and 0 <= point < n_planned and point not in seen:
            copy_rows.append(row)
            seen.add(point)
    result = Salvaged(str(source), str(target), n_planned=n_planned,
                      left_behind=sorted({int(p) for p in ledger
                                          if 0 <= p < n_planned and int(p) not in seen}),
                      events_lost=n_events - len(event_rows))
    metadata = json.loads(config["metadata_json"])
    metadata["salvaged_from"] = Path(source).name
    writer = RunWriter.create(
        target, n_bias=n_bias, n_planned=n_planned, metadata=metadata,
        station_text=config["station_text"], plan_text=config["plan_text"],
        snapshot=json.loads(config["snapshot_json"]), point_keys=extra,
    )
    try:
        for row in sorted(event_rows):
            try:
                writer.log_event(_text(event_values["kind"][row]),
                                 _text(event_values["message"][row]),
                                 time_s=float(event_values["time_s"][row]),
                                 point_index=int(event_values["point_index"][row]))
            except (PointIndexError, RecordFieldError):  # values no run could have logged
                result.events_lost += 1
            else:
                result.events_copied += 1
        for row in copy_rows:
            record = {}
            for name in column_names:
                value = values[name][row]
                column = standard.get(name)
                kind = column.kind if column is not None else "float"
                record[name] = (_text(value) if kind == "text" else
                                int(value) if kind == "int" else float(value))
            writer.append_spectrum(
                int(ledger[row]), bias_V=values["bias_V"][row], G_S=values["G_S"][row],
                X_V=values["X_V"][row], Y_V=values["Y_V"][row], record=record,
            )
            result.copied.append(int(ledger[row]))
        writer.log_event("salvage", result.describe(), time_s=_last_time(event_values),
                         point_index=-1)
        writer.close("aborted")
    except BaseException:
        if not writer.closed:
            writer.close("aborted")
        raise
    _compare(target, copy_rows, ledger, values, column_names)
    return result


def _last_time(event_values: dict[str, dict[int, object]]) -> float:
    times = [float(t) for t in event_values["time_s"].values()]
    return max(times) if times else 0.0


def _compare(target, copy_rows, ledger, values, column_names) -> None:
    """Read every copied row back from ``target`` and compare it with the source, bit for bit
    (NaN equal to NaN): the new file is accepted only if they agree."""
    import h5py
    import numpy as np

    from .layout import DATA, LEDGER, POINTS, SPECTRUM_DATASETS

    with h5py.File(target, "r", libver="latest", swmr=True, locking=False) as new:
        new_ledger = new[LEDGER][()]
        for k, row in enumerate(copy_rows):
            if int(new_ledger[k]) != int(ledger[row]):
                raise SalvageError(f"{target}: row {k} holds point {new_ledger[k]}, "
                                   f"copied point {ledger[row]}")
            for arg, c in SPECTRUM_DATASETS:
                if not np.array_equal(new[DATA][c.name][k], values[arg][row], equal_nan=True):
                    raise SalvageError(f"{target}: {c.name} of point {ledger[row]} differs "
                                       "from the source after copying")
            for name in column_names:
                a, b = new[POINTS][name][k], values[name][row]
                same = a == b or (isinstance(a, float | np.floating) and np.isnan(a)
                                  and np.isnan(b))
                if not same:
                    raise SalvageError(f"{target}: {name} of point {ledger[row]} differs "
                                       "from the source after copying")


def salvage_into(source: str | os.PathLike[str], target: str | os.PathLike[str],
                 timeout_s: float | None = None) -> Salvaged:
    """:func:`copy_intact` in a child process, killed after ``timeout_s`` wall seconds
    (default: a base plus time per MB). Raises :class:`SalvageError` with a message naming
    the files; a half-made target is removed."""
    source, target = Path(source), Path(target)
    if timeout_s is None:
        size_mb = source.stat().st_size / 1e6 if source.exists() else 0.0
        timeout_s = SALVAGE_BASE_TIMEOUT_S + SALVAGE_S_PER_MB * size_mb
    existed = target.exists()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "stm_andreev.storage.salvage", os.fspath(source),
             os.fspath(target)],
            capture_output=True, text=True, timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        _remove_half_made(target, existed)
        raise SalvageError(f"copying the intact spectra of {source} into {target} did not "
                           f"finish within {timeout_s:g} s (HDF5 blocked on damaged data); "
                           f"{target} removed") from None
    lines = proc.stdout.strip().splitlines()
    reply = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    if reply is None or "error" in reply:
        _remove_half_made(target, existed)
        why = reply["error"] if reply else (
            f"the copy crashed (signal {-proc.returncode})" if proc.returncode < 0
            else f"the copy failed (exit {proc.returncode})")
        raise SalvageError(f"cannot continue {source} into {target}: {why}")
    return Salvaged(**reply)


def _remove_half_made(target: Path, existed: bool) -> None:
    if not existed:
        target.unlink(missing_ok=True)


def _main(argv: list[str]) -> int:
    import logging
    import warnings

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    try:
        result = copy_intact(argv[0], argv[1])
    except StorageError as exc:  # the writer's own messages (exists, disk full, ...)
        print(json.dumps({"error": str(exc)}))
        return 0
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}))
        return 0
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
