"""A writer of Nanonis grid (.3ds) files for the tests, written from the format's description
(docs/nanonis-grid.md): header lines ``key=value`` (CR LF), ``:HEADER_END:``, then per pixel
in raster order the parameters and every channel's points as big-endian float32."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def write_3ds(path: Path, *, nx: int, ny: int, bias: np.ndarray,
              channels: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray],
              centre=(1e-7, -2e-7), size=(4e-8, 3e-8), angle=0.0,
              header: Mapping[str, object] | None = None, pixels: int | None = None,
              experiment: Sequence[str] | None = None, overrides: Mapping[str, str] = (),
              tail: bytes = b"") -> Path:
    """``channels``: name -> [ny, nx, n] values; ``params``: experiment parameter name ->
    [ny, nx] values (Sweep Start/End are written from ``bias``). ``pixels`` writes only the
    first so many pixels (a stopped grid). ``overrides`` replace header entries verbatim."""
    n = len(bias)
    fixed = ["Sweep Start", "Sweep End"]
    exp = list(params if experiment is None else experiment)
    names = list(channels)
    entries = {
        "Grid dim": f'"{nx} x {ny}"',
        "Grid settings": ";".join(f"{v:E}" for v in (*centre, *size, angle)),
        "Filetype": "Linear",
        "Sweep Signal": '"Bias (V)"',
        "Fixed parameters": '"' + ";".join(fixed) + '"',
        "Experiment parameters": '"' + ";".join(exp) + '"',
        "# Parameters (4 byte)": str(len(fixed) + len(exp)),
        "Experiment size (bytes)": str(4 * n * len(names)),
        "Points": str(n),
        "Channels": '"' + ";".join(names) + '"',
        "Delay before measuring (s)": "0.000000E+0",
        "Experiment": '"Grid Spectroscopy"',
        "Start time": '"06.12.2026 07:00:00"',
        "End time": '"06.12.2026 08:00:00"',
        "User": "",
        "Comment": '"test grid"',
        **{k: str(v) for k, v in (header or {}).items()},
        **dict(overrides),
    }
    text = "".join(f"{k}={v}\r\n" for k, v in entries.items()) + ":HEADER_END:\r\n"
    rows = []
    count = nx * ny if pixels is None else pixels
    for p in range(count):
        iy, ix = divmod(p, nx)
        row = [bias[0], bias[-1], *(params[k][iy, ix] for k in exp)]
        for name in names:
            row.extend(channels[name][iy, ix])
        rows.append(row)
    blob = np.asarray(rows, dtype=">f4").tobytes() if rows else b""
    path.write_bytes(text.encode("utf-8") + blob + tail)
    return path
