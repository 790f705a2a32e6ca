"""Load spectra from any supported file: run files (HDF5, through the storage reader),
Nanonis bias-spectroscopy .dat files, and plain text."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AnalysisInputError
from .inputs import SpectrumInput
from .io_text import (
    DATA_MARKER,
    read_bounded_text,
    read_nanonis_dat,
    read_text_table,
    spectrum_from_table,
)
from .nanonis_grid import is_3ds, pixel_spectra, read_3ds

log = logging.getLogger(__name__)

HDF5_SUFFIXES = (".h5", ".hdf5", ".nxs", ".hdf")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(8) == _HDF5_SIGNATURE
    except OSError:
        return False


def _finite(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _run_temperature(record: dict[str, Any]) -> float | None:
    temps = [_finite(record.get(k)) for k in ("temperature_before_K", "temperature_after_K")]
    temps = [t for t in temps if t is not None and t > 0]
    return float(np.mean(temps)) if temps else None


def _grid_points(p: Path) -> range | None:
    """The plan points of a grid run's pixels (``/entry/grid``: first_point_index, nx, ny),
    or None for a run without a grid."""
    import h5py

    try:
        with h5py.File(p, "r", locking=False) as f:
            grid = f.get("entry/grid")
            if grid is None or "first_point_index" not in grid.attrs:
                return None
            first = int(grid.attrs["first_point_index"])
            return range(first, first + int(grid.attrs["nx"]) * int(grid.attrs["ny"]))
    except (OSError, RuntimeError, KeyError, ValueError):  # damaged: the reader says how
        return None


def has_spectra_besides_its_grid(path: str | Path) -> bool:
    """True for a grid run file whose ledger holds spectra that are not pixels (other plan
    steps), which are analysed as single spectra beside the map."""
    import h5py

    p = Path(path)
    pixels = _grid_points(p)
    if pixels is None:
        return False
    try:
        with h5py.File(p, "r", locking=False) as f:
            ledger = f.get("entry/ledger")
            return ledger is not None and any(int(k) not in pixels for k in ledger[()])
    except (OSError, RuntimeError, KeyError, ValueError):  # damaged: the reader says how
        return False


def load_run_file(path: str | Path) -> list[SpectrumInput]:
    """Every confirmed spectrum of a run file, with its temperature, modulation, setpoint
    conductance and tip position from the per-spectrum table. Spectra without usable
    conductance (failed acquisitions stored as NaN) are skipped with a warning; a grid's
    pixels are left out (an empty list for a run that is only a grid)."""
    from stm_andreev.storage import RunReader, StorageError

    p = Path(path)
    try:
        with RunReader(p) as reader:
            meta = reader.metadata
            spectra = [reader.spectrum(i) for i in range(reader.n_spectra)]
    except StorageError as exc:
        raise AnalysisInputError(f"{p}: cannot be read as a run file: {exc}") from exc
    if not spectra:
        raise AnalysisInputError(f"{p}: the run file holds no confirmed spectra")
    pixels = _grid_points(p)
    if pixels is not None:
        # A grid's pixels are analysed as a map (analysis/maps.py), not as single spectra.
        spectra = [s for s in spectra if s.point_index not in pixels]
        if not spectra:
            return []
    out = []
    for s in spectra:
        rec = s.record
        sample = meta.get("sample", "")
        if np.count_nonzero(np.isfinite(s.G_S)) < 7:
            # A failed acquisition is stored as NaN with its status; the run's other spectra
            # are still worth analysing.
            log.warning("%s: spectrum %d skipped: no usable conductance (status %s: %s)",
                        p, s.row, rec.get("status_code"), rec.get("status_text"))
            continue
        out.append(SpectrumInput(
            bias_V=np.asarray(s.bias_V, dtype=float), G=np.asarray(s.G_S, dtype=float),
            G_unit="S", source=str(p), index=s.row, T_K=_run_temperature(rec),
            Vmod_rms_V=_finite(rec.get("modulation_Vrms")),
            setpoint_G_S=_finite(rec.get("G_sp_S")), tip_x_m=_finite(rec.get("tip_x_m")),
            tip_y_m=_finite(rec.get("tip_y_m")),
            label=f"{sample} point {s.point_index}".strip(),
            meta={"run": meta, "record": rec, "point_index": s.point_index},
        ))
    if not out:
        raise AnalysisInputError(f"{p}: none of its {len(spectra)} spectra has usable "
                                 "conductance values")
    return out


def load_spectra(path: str | Path, *, bias_col: str | int | None = None,
                 g_col: str | int | None = None, g_unit: str = "auto", sign: str = "auto",
                 use: str = "X") -> list[SpectrumInput]:
    """Spectra from one file, whatever its kind (run file, Nanonis .dat or .3ds grid, text).

    ``bias_col``/``g_col`` (name or index), ``g_unit`` ("auto", "S", "G0", "GN", "arb"),
    ``sign`` ("auto", "+", "-") and ``use`` ("X", "R": which lock-in output) apply to text
    and .dat files (see :func:`~.io_text.spectrum_from_table`). Raises AnalysisInputError
    naming the file and the problem.
    """
    p = Path(path)
    if not p.exists():
        raise AnalysisInputError(f"{p}: no such file")
    if not p.is_file():
        raise AnalysisInputError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise AnalysisInputError(f"{p}: empty file; expected a run file, a Nanonis .dat or a "
                                 "text spectrum")
    if _is_hdf5(p) or p.suffix.lower() in HDF5_SUFFIXES:
        return load_run_file(p)
    if is_3ds(p):
        # each measured pixel of a Nanonis grid, by the .dat files' channel rule
        return pixel_spectra(read_3ds(p, g_col=g_col, use=use, sign=sign))
    with p.open("rb") as f:  # the start only: a file can be gigabytes
        head = f.read(4096)
    if b"\x00" in head:
        raise AnalysisInputError(f"{p}: binary file that is not HDF5; expected a run file, a "
                                 "Nanonis .dat or a text spectrum")
    is_dat = DATA_MARKER in read_bounded_text(p, errors="replace")
    table = read_nanonis_dat(p) if is_dat else read_text_table(p)
    return [spectrum_from_table(table, bias_col=bias_col, g_col=g_col, g_unit=g_unit,
                                sign=sign, use=use)]
