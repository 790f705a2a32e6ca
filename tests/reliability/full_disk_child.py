"""Child process of the real-full-disk tests (a crash here must not take pytest down).

    python full_disk_child.py midrun DIR    # fill DIR's filesystem after spectrum 1, free it
                                            # when the run pauses; print the outcome as JSON
    python full_disk_child.py create DIR    # fill it while the run file is being laid out
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stm_andreev.storage import RunWriter, layout, writer  # noqa: E402
from stm_andreev.storage.errors import StorageError  # noqa: E402


def fill(filler: Path) -> None:
    """Write ``filler`` until the filesystem is full (ENOSPC)."""
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def midrun(directory: Path) -> dict:
    from tests.reliability.conftest import dry_run

    filler = directory / "filler"
    state = {"filled": 0, "freed": 0}

    def on_spectrum(point, spectrum) -> None:
        if point.index == 1 and not state["filled"]:
            fill(filler)
            state["filled"] = 1

    def on_pause() -> None:
        filler.unlink(missing_ok=True)
        state["freed"] += 1

    run = dry_run(directory, on_spectrum=on_spectrum, on_pause=on_pause)
    return {"error": repr(run.error) if run.error else None, "ledger": run.ledger,
            "status": run.status, "events": run.event_kinds, **state}


def create(directory: Path) -> dict:
    real = writer.create_layout

    def filling_layout(file, **kwargs):
        fill(directory / "filler")
        real(file, **kwargs)
        file.flush()

    writer.create_layout = filling_layout
    layout.create_layout = filling_layout
    try:
        RunWriter.create(directory / "run.h5", n_bias=11, n_planned=4, metadata={},
                         station_text="s", plan_text="p", snapshot={})
        message = None
    except StorageError as exc:
        message = f"{type(exc).__name__}: {exc}"
    left = sorted(p.name for p in directory.iterdir() if p.name != "filler")
    return {"message": message, "left": left}


if __name__ == "__main__":
    kind, where = sys.argv[1], Path(sys.argv[2])
    result = midrun(where) if kind == "midrun" else create(where)
    print(json.dumps(result))
    sys.stdout.flush()
    # h5py may hold a file it could not close on the full disk: leave without collecting it
    # (what stm-andreev run does too).
    os._exit(0)
