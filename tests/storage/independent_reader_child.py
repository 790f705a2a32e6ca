"""An independent SWMR reader in plain h5py (what a generic NeXus viewer does), for the SWMR test.

    python -m tests.storage.independent_reader_child PATH

Opens the run file once in SWMR read mode, lists every dataset in it, prints "open", then polls
until the run's status is no longer "running": each poll opens, refreshes and reads every
dataset of that list. After a poll that saw a new number of ledger rows it prints "rows N" (so
the writer can wait until the reader has looked at a given moment of the run); at the end one
JSON line: the number of polls, the errors by dataset, and the last plot axis
(``entry/data/bias_axis_V``) it read.
"""

from __future__ import annotations

import json
import sys
import time

import h5py
import numpy as np

POLL_LIMIT_S = 60.0


def main() -> None:
    with h5py.File(sys.argv[1], "r", libver="latest", swmr=True) as f:
        names: list[str] = []
        # visit lists names without opening the datasets (a viewer's tree before any click).
        f.visit(names.append)
        datasets = [n for n in names if f.get(n, getclass=True) is h5py.Dataset]
        print("open", flush=True)
        errors: dict[str, str] = {}
        polls = 0
        axis: list[float] = []
        status = b"running"
        rows_told = -1
        deadline = time.monotonic() + POLL_LIMIT_S
        while status == b"running" and time.monotonic() < deadline:
            polls += 1
            for name in datasets:
                try:
                    ds = f[name]
                    ds.refresh()
                    value = ds[()]
                except Exception as exc:  # every failure is the finding, whatever its type
                    errors.setdefault(name, f"poll {polls}: {exc}")
                    continue
                if name == "entry/status":
                    status = bytes(value).rstrip(b"\0")
                elif name == "entry/data/bias_axis_V":
                    axis = np.asarray(value, dtype=float).tolist()
                elif name == "entry/ledger" and len(value) != rows_told:
                    rows_told = len(value)
                    print(f"rows {rows_told}", flush=True)
            time.sleep(0.002)
    print(json.dumps({"polls": polls, "datasets": datasets, "errors": errors, "axis": axis,
                      "status": status.decode()}), flush=True)


if __name__ == "__main__":
    main()
