"""SWMR writer of a grid run file, one pixel per command, for tests that read in lockstep.

    python -m tests.storage.grid_writer_child PATH NX NY N_BIAS

Lays the file out, starts SWMR, prints "ready"; then each stdin line "P" writes pixel P
(raster order) and answers "ok"; "half P" writes only pixel P's spectrum (not its done flag),
as a writer killed in between would leave it. End of input closes the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import h5py

from .grid_files import G0_S, lay_out_grid, pixel_G_S, write_pixel


def main() -> None:
    path, nx, ny, n_bias = Path(sys.argv[1]), *map(int, sys.argv[2:5])
    lay_out_grid(path, nx=nx, ny=ny, n_bias=n_bias)
    with h5py.File(path, "r+", libver="latest") as f:
        f.swmr_mode = True
        print("ready", flush=True)
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["half"]:
                iy, ix = divmod(int(words[1]), nx)
                G = pixel_G_S(iy, ix, n_bias)
                f["entry/grid/G_S"][iy, ix] = G
                f["entry/grid/G_G0"][iy, ix] = G / G0_S
                f.flush()
            else:
                write_pixel(f, *divmod(int(words[0]), nx))
            print("ok", flush=True)


if __name__ == "__main__":
    main()
