"""Reader process for the SWMR test: follows a run file while another process writes it.

    python -m tests.storage.live_reader_child PATH

Prints one JSON line when the file is open, then answers stdin commands with one JSON line:
    check       refresh once and verify every confirmed row
    follow N    refresh repeatedly until N spectra are confirmed, verifying each new row
    quit        close and exit
A row is verified against the deterministic spectrum and record of the point the ledger names.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from stm_andreev.storage import RunReader

from .storage_helpers import record_for, spectrum_for

FOLLOW_LIMIT_S = 60.0


def _verify(reader: RunReader, start: int, stop: int) -> str | None:
    ledger = reader.ledger
    for row in range(start, stop):
        point = int(ledger[row])
        spec = reader.spectrum(row)
        if not np.array_equal(spec.G_S, spectrum_for(point)["G_S"]):
            return f"row {row} (point {point}): G_S does not match"
        if spec.record["time_s"] != record_for(point)["time_s"]:
            return f"row {row} (point {point}): time_s does not match"
    return None


def _state(reader: RunReader, **extra: object) -> str:
    return json.dumps({
        "n": reader.n_spectra,
        "ledger": [int(p) for p in reader.ledger],
        "status": reader.status,
        "end_time": reader.end_time,
        "events": [e.kind for e in reader.events()],
        **extra,
    })


def main() -> None:
    reader = RunReader(sys.argv[1], live=True)
    print(_state(reader), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command == ["quit"]:
            break
        if command == ["check"]:
            reader.refresh()
            print(_state(reader, error=_verify(reader, 0, reader.n_spectra)), flush=True)
        elif command and command[0] == "follow":
            target = int(command[1])
            seen = [reader.n_spectra]
            error = None
            deadline = time.monotonic() + FOLLOW_LIMIT_S
            while seen[-1] < target and error is None and time.monotonic() < deadline:
                before = seen[-1]
                now = reader.refresh()
                if now < before:
                    error = f"confirmed spectra went down from {before} to {now}"
                elif now > before:
                    error = _verify(reader, before, now)
                    seen.append(now)
            print(_state(reader, error=error, observations=seen), flush=True)
    reader.close()


if __name__ == "__main__":
    main()
