"""The raw lock-in samples of continuous spectra, kept beside the run file.

A continuous spectrum (``acquisition: continuous``, docs/continuous.md) is estimated from
thousands of lock-in output samples taken while the bias steps through the grid. The run
file keeps the estimate on the grid; the samples themselves go to one small file per point
in the directory ``<run file>.ramp/`` (``point_000123.npz``), so that

* the run file's layout (fixed before SWMR writing starts) is unchanged, and a sample count
  that differs from spectrum to spectrum needs no resizable datasets;
* each file appears whole or not at all (written under a temporary name, then renamed), so
  a live reader (the GUI) never sees half a file, and a crash leaves at most a temporary;
* a re-taken point replaces its file (same name), as the run file keeps only the re-take.

Contents (float64 unless said; times relative to the capture start, s): ``time_s`` [M] the
sample times, ``X_V``, ``Y_V`` [M] float32 the lock-in outputs (V rms) as captured, ``step_time_s``
[K] and ``step_bias_V`` [K] when the bias reached each value of its walk, and the scalars
``time_constant_s``, ``filter_slope_db``. Size: 8 bytes per sample for X and Y plus 8 for the time
(at most the SR860's 4 MB buffer times two per spectrum). Loaded with ``allow_pickle=False``:
nothing in the file is run as code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUFFIX = ".ramp"
_FIELDS = ("time_s", "X_V", "Y_V", "step_time_s", "step_bias_V")


@dataclass(frozen=True)
class RampSamples:
    """The captured lock-in outputs of one continuous spectrum and the bias walk."""

    time_s: np.ndarray
    X_V: np.ndarray
    Y_V: np.ndarray
    step_time_s: np.ndarray
    step_bias_V: np.ndarray
    time_constant_s: float
    filter_slope_db: int

    def bias_at(self, t_s: np.ndarray) -> np.ndarray:
        """The bias applied at times ``t_s`` (the last step at or before each; NaN before
        the first step)."""
        k = np.searchsorted(self.step_time_s, np.asarray(t_s, dtype=float), side="right") - 1
        out = self.step_bias_V[np.clip(k, 0, None)].astype(float)
        out[k < 0] = np.nan
        return out


def samples_dir(run_path: str | os.PathLike[str]) -> Path:
    """The directory of a run file's ramp samples (``<run file>.ramp``)."""
    p = Path(run_path)
    return p.with_name(p.name + SUFFIX)


def sample_path(run_path: str | os.PathLike[str], point_index: int) -> Path:
    return samples_dir(run_path) / f"point_{int(point_index):06d}.npz"


def write_ramp_samples(run_path: str | os.PathLike[str], point_index: int,
                       samples: RampSamples) -> Path:
    """Store the samples of point ``point_index`` (replacing an earlier take); returns the
    file written."""
    path = sample_path(run_path, point_index)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    arrays = {name: np.asarray(getattr(samples, name)) for name in _FIELDS}
    arrays["X_V"] = arrays["X_V"].astype(np.float32)
    arrays["Y_V"] = arrays["Y_V"].astype(np.float32)
    with open(tmp, "wb") as f:
        np.savez(f, **arrays, time_constant_s=np.float64(samples.time_constant_s),
                 filter_slope_db=np.int64(samples.filter_slope_db))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_ramp_samples(run_path: str | os.PathLike[str], point_index: int) -> RampSamples | None:
    """The samples of point ``point_index``, or None if the run kept none for it (a
    point-by-point spectrum, or a run from before samples were kept)."""
    path = sample_path(run_path, point_index)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return RampSamples(
            **{name: np.asarray(data[name], dtype=float) for name in _FIELDS},
            time_constant_s=float(data["time_constant_s"]),
            filter_slope_db=int(data["filter_slope_db"]),
        )


def has_ramp_samples(run_path: str | os.PathLike[str]) -> bool:
    """Whether a run kept the raw samples of any continuous spectrum."""
    d = samples_dir(run_path)
    return d.is_dir() and any(d.glob("point_*.npz"))
