"""R(T) for Tc: read from a cooldown file (``stm-andreev run cooldown``) or a text file with a
temperature and a resistance column, and find the cooldown file that belongs to a run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AnalysisInputError
from .io_text import read_text_table
from .series import TcResult, tc_from_resistance

COOLDOWN_FORMAT = "stm_andreev.cooldown"
_T_NAME = re.compile(r"^t\b|^t[ _(]|temp", re.IGNORECASE)
_R_NAME = re.compile(r"^r\b|^r[ _(]|resist|ohm", re.IGNORECASE)


@dataclass(frozen=True)
class ResistanceCurve:
    """R(T): ``T_K`` and ``R_ohm`` arrays and ``source`` (file and columns)."""

    T_K: np.ndarray
    R_ohm: np.ndarray
    source: str

    def tc(self) -> TcResult:
        try:
            return tc_from_resistance(self.T_K, self.R_ohm)
        except AnalysisInputError as exc:
            raise AnalysisInputError(f"{self.source}: {exc}") from None


def _is_cooldown(path: Path) -> bool:
    # Opened as a closed file first: in SWMR mode HDF5 retries a damaged header's reads for
    # minutes (a run file with one flipped byte at offset 425 held `analyze` here > 120 s).
    from stm_andreev.storage.verify import open_for_reading

    try:
        with open_for_reading(path) as f:
            return f.attrs.get("stm_andreev_format") == COOLDOWN_FORMAT
    except Exception:  # whatever HDF5 says of a damaged file: not a cooldown file
        return False


def _text_columns(path: Path) -> tuple[int, int] | None:
    try:
        table = read_text_table(path)
    except AnalysisInputError:
        return None
    t = [i for i, n in enumerate(table.names) if _T_NAME.search(n)]
    r = [i for i, n in enumerate(table.names) if _R_NAME.search(n) and i not in t]
    return (t[0], r[0]) if t and r else None


def _starts_hdf5(p: Path) -> bool:
    # The signature only: a run file can be gigabytes.
    with p.open("rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def is_resistance_file(path: str | Path) -> bool:
    """A cooldown file, or a text file with a temperature and a resistance column by name."""
    p = Path(path)
    if not p.is_file():
        return False
    if _starts_hdf5(p):
        return _is_cooldown(p)
    return p.suffix.lower() != ".dat" and _text_columns(p) is not None


def load_resistance(path: str | Path) -> ResistanceCurve:
    """R(T) of a cooldown file (film resistance against the control thermometer) or of a
    text file. Raises AnalysisInputError naming the file."""
    p = Path(path)
    if _starts_hdf5(p):
        # Read through the cooldown command's reader (the format's one definition).
        from stm_andreev.storage.cooldown_file import CooldownFileError, read_cooldown

        try:
            log = read_cooldown(p)
        except CooldownFileError as exc:
            raise AnalysisInputError(str(exc)) from None
        r = log["readings"]
        if "film_R_ohm" not in r or not np.any(np.isfinite(r["film_R_ohm"])):
            raise AnalysisInputError(f"{p}: the cooldown file has no film resistance "
                                     "(no transport bridge in the station)")
        return ResistanceCurve(np.asarray(r["control_K"], float),
                               np.asarray(r["film_R_ohm"], float),
                               f"{p} (film_R_ohm against control_K)")
    cols = _text_columns(p)
    if cols is None:
        raise AnalysisInputError(f"{p}: no temperature and resistance columns by name "
                                 "(expected e.g. 'T (K)' and 'R (ohm)')")
    table = read_text_table(p)
    it, ir = cols
    return ResistanceCurve(table.data[:, it], table.data[:, ir],
                           f"{p} ({table.names[ir]!r} against {table.names[it]!r})")


def cooldown_of_run(run_path: str | Path) -> Path | None:
    """The cooldown file written with a run (``<stamp>_<plan>_cooldown.h5`` next to
    ``<stamp>_<plan>.h5``), if there is one."""
    p = Path(run_path)
    candidate = p.with_name(f"{p.stem}_cooldown{p.suffix}")
    return candidate if candidate.is_file() and _is_cooldown(candidate) else None


def describe_tc(tc: TcResult, source: str) -> str:
    """One line: Tc with its uncertainty, the fitted window, where it came from, warnings."""
    lo, hi = tc.window_K
    text = (f"Tc = {tc.Tc_K:.4g} ± {tc.Tc_err_K:.2g} K (straight line through the resistive "
            f"drop, {tc.n_points} readings between {lo:.4g} and {hi:.4g} K, extrapolated to "
            f"R = 0) from {source}")
    if tc.warnings:
        text += "; warning: " + "; ".join(tc.warnings)
    return text
