"""Plain-text and Nanonis bias-spectroscopy (.dat) spectra: readers and writers.

Plain text: ``#`` comments, an optional header row of column names, then rows of numbers
separated by commas, tabs or spaces. Nanonis ``.dat``: ``key<TAB>value`` header lines, a
``[DATA]`` line, a tab-separated row of column names such as ``Bias calc (V)`` and
``LI Demod 1 X (A)``, then tab-separated numbers.
Every problem raises AnalysisInputError naming the file and what was expected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .errors import AnalysisInputError
from .inputs import GUnit, SpectrumInput

_SPLIT = re.compile(r"\s*,\s*|\t|\s+")
_BIAS_NAMES = re.compile(r"bias|^v\b|^v[ _(]|voltage", re.IGNORECASE)
_G_NAMES = re.compile(r"di/dv|didv|^g\b|^g[ _(]|conduct|demod|lock-?in|li\b", re.IGNORECASE)
DATA_MARKER = "[DATA]"
#: Largest text input read, in bytes. Text is parsed whole in memory, about 13 bytes of Python
#: objects per byte of text (a 318 MB file took 4.1 GB and 188 s); a spectrum is kilobytes and
#: an R(T) log of a week at one reading per second about 20 MB.
MAX_TEXT_BYTES = 32 * 1024 * 1024


def read_bounded_text(path: Path, *, errors: str = "strict") -> str:
    """The text of ``path`` (UTF-8), refused with AnalysisInputError if it is not a regular
    file or holds more than :data:`MAX_TEXT_BYTES` (never read beyond that bound)."""
    try:
        if not path.is_file():
            raise AnalysisInputError(f"{path}: not a regular file (a directory, a device or a "
                                     "pipe); expected a text spectrum")
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise AnalysisInputError(
                f"{path}: {size / 1e6:.1f} MB of text; text inputs are limited to "
                f"{MAX_TEXT_BYTES // 2**20} MiB (a spectrum is kilobytes: split the file, or "
                "analyse a run file)")
        with path.open(encoding="utf-8", errors=errors) as f:
            text = f.read(MAX_TEXT_BYTES + 1)  # bounded even if the file grows meanwhile
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisInputError(f"{path}: cannot be read as a text spectrum: {exc}") from exc
    if len(text) > MAX_TEXT_BYTES:
        raise AnalysisInputError(f"{path}: grew beyond {MAX_TEXT_BYTES // 2**20} MiB while "
                                 "being read; text inputs are limited to that")
    return text


@dataclass(frozen=True)
class Table:
    """Numeric columns read from a file: ``names`` (may be generated "col0"...), ``data``
    (rows x columns float64) and ``header`` (Nanonis key/value lines; empty for text)."""

    path: str
    names: tuple[str, ...]
    data: np.ndarray
    header: dict[str, str]

    def column(self, key: str | int | None, role: str) -> int:
        """Index of a column chosen by name (exact, then case-insensitive substring) or
        index (negative counts from the end)."""
        n = len(self.names)
        if isinstance(key, int) or (isinstance(key, str) and re.fullmatch(r"-?\d+", key)):
            i = int(key)
            if not -n <= i < n:
                raise AnalysisInputError(f"{self.path}: {role} column {i} does not exist "
                                         f"(the file has {n} columns: {', '.join(self.names)})")
            return i % n
        assert isinstance(key, str)
        if key in self.names:
            return self.names.index(key)
        hits = [i for i, name in enumerate(self.names) if key.lower() in name.lower()]
        if len(hits) == 1:
            return hits[0]
        what = "matches several columns" if hits else "matches no column"
        raise AnalysisInputError(f"{self.path}: {role} column {key!r} {what}; columns are: "
                                 f"{', '.join(self.names)}")


def _numbers(fields: list[str]) -> list[float] | None:
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def _fields(line: str) -> list[str]:
    return [f for f in _SPLIT.split(line.strip()) if f != ""]


def _table(path: str, names: list[str] | None, rows: list[list[float]], header) -> Table:
    if not rows:
        raise AnalysisInputError(f"{path}: no data rows; expected rows of numbers "
                                 "(bias in V, conductance)")
    width = len(rows[0])
    for k, row in enumerate(rows):
        if len(row) != width:
            raise AnalysisInputError(f"{path}: data row {k + 1} has {len(row)} values, the "
                                     f"first has {width} (truncated or ragged file?)")
    if width < 2:
        raise AnalysisInputError(f"{path}: a single column; expected at least two (bias in V "
                                 "and conductance)")
    if names is None or len(names) != width:
        names = [f"col{i}" for i in range(width)]
    data = np.array(rows, dtype=float)
    return Table(path, tuple(names), data, dict(header))


def read_text_table(path: str | Path) -> Table:
    """Read a plain-text table (comma, tab or space separated; ``#`` comments; optional
    header row of names, which may itself start with ``#`` as in numpy.savetxt)."""
    p = Path(path)
    text = read_bounded_text(p)
    names: list[str] | None = None
    last_comment: str | None = None
    rows: list[list[float]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            last_comment = line.lstrip("#").strip()
            continue
        values = _numbers(_fields(line))
        if values is None:
            if rows or names is not None:
                raise AnalysisInputError(f"{p}: line {lineno} is not numeric: {raw[:60]!r}; "
                                         "expected numbers separated by commas, tabs or spaces")
            names = _split_names(line)
            continue
        if names is None and last_comment is not None and not rows:
            names = _split_names(last_comment)
        rows.append(values)
    return _table(str(p), names, rows, {})


def _split_names(line: str) -> list[str]:
    # Names may contain spaces ("Bias calc (V)"): prefer tabs or commas when present.
    for sep in ("\t", ","):
        if sep in line:
            return [n.strip() for n in line.split(sep) if n.strip() != ""]
    return line.split()


def read_nanonis_dat(path: str | Path) -> Table:
    """Read a Nanonis bias-spectroscopy .dat file: header dict and named columns."""
    p = Path(path)
    lines = read_bounded_text(p, errors="replace").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == DATA_MARKER)
    except StopIteration:
        raise AnalysisInputError(f"{p}: no {DATA_MARKER} line; expected a Nanonis .dat file "
                                 "(key/value header, [DATA], column names, numbers)") from None
    header = {}
    for line in lines[:start]:
        if line.strip():
            key, _, value = line.partition("\t")
            header[key.strip()] = value.strip().rstrip("\t").strip()
    body = [line for line in lines[start + 1 :] if line.strip()]
    if not body:
        raise AnalysisInputError(f"{p}: nothing after {DATA_MARKER}; expected a row of column "
                                 "names and data rows")
    names = [n.strip() for n in body[0].split("\t") if n.strip()]
    rows = []
    for k, line in enumerate(body[1:], 1):
        values = _numbers([f for f in line.strip().split("\t") if f.strip() != ""])
        if values is None:
            raise AnalysisInputError(f"{p}: data row {k} is not numeric: {line[:60]!r}")
        rows.append(values)
    table = _table(str(p), names, rows, header)
    if len(names) != table.data.shape[1]:
        raise AnalysisInputError(f"{p}: {len(names)} column names but {table.data.shape[1]} "
                                 "values per row")
    return table


def write_text_spectrum(path: str | Path, columns: Mapping[str, ArrayLike], *,
                        comments: Sequence[str] = (), delimiter: str = "\t") -> Path:
    """Write named columns (equal length) as text: ``# comments``, a header row, rows."""
    p = Path(path)
    names = list(columns)
    data = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    lines = [f"# {c}" for c in comments] + [delimiter.join(names)]
    lines += [delimiter.join(f"{x:.10g}" for x in row) for row in data]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def write_nanonis_dat(path: str | Path, columns: Mapping[str, ArrayLike], *,
                      header: Mapping[str, object] | None = None) -> Path:
    """Write a Nanonis-style bias-spectroscopy .dat: ``key\\tvalue\\t`` lines, a blank line,
    ``[DATA]``, the tab-separated column names, rows in %.6E as Nanonis writes them."""
    p = Path(path)
    names = list(columns)
    data = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    head = {"Experiment": "bias spectroscopy", **(header or {})}
    lines = [f"{k}\t{v}\t" for k, v in head.items()] + ["", DATA_MARKER, "\t".join(names)]
    lines += ["\t".join(f"{x:.6E}" for x in row) for row in data]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _unit_from_name(name: str) -> GUnit | None:
    n = name.replace(" ", "").lower()
    if "(s)" in n or n.endswith("_s") or "siemens" in n:
        return "S"
    if "g0" in n or "2e^2/h" in n or "2e2/h" in n:
        return "G0"
    if "g_n" in n or "g/gn" in n or "norm" in n:
        return "GN"
    if "(a)" in n or "(v)" in n or "arb" in n:
        return "arb"
    return None


def _pick(table: Table, key, role: str, pattern: re.Pattern, exclude: int | None) -> int:
    if key is not None:
        return table.column(key, role)
    named = [i for i, n in enumerate(table.names) if pattern.search(n) and i != exclude]
    if len(named) >= 1 and not table.names[0].startswith("col"):
        return named[0]
    if role == "bias" and not named:
        return 0  # the first column is the bias by convention
    if table.data.shape[1] == 2:
        return 1 - (exclude or 0)
    raise AnalysisInputError(
        f"{table.path}: {table.data.shape[1]} columns ({', '.join(table.names)}) and no "
        f"{role} column recognisable by name; choose it with --{'bias' if role == 'bias' else 'g'}-col"
    )


# Lock-in channels in order of preference: the first harmonic's in-phase output under the
# names Nanonis has used (Demod 1 since v5, "LIX 1 omega" before), a generic lock-in X, and the
# analog input an external lock-in is often wired to. Second harmonics, Y, phase and
# backward sweeps are never taken unasked.
_LOCKIN_X = (
    re.compile(r"demod\s*1\s*x\b", re.IGNORECASE),
    re.compile(r"lix\s*1\s*omega", re.IGNORECASE),
    re.compile(r"^(li|lock-?in)\s*x\b|^lix\b", re.IGNORECASE),
    re.compile(r"^input\s*3\b", re.IGNORECASE),
)
_LOCKIN_R = (
    re.compile(r"demod\s*1\s*r\b", re.IGNORECASE),
    re.compile(r"lir\s*1\s*omega", re.IGNORECASE),
    re.compile(r"^(li|lock-?in)\s*r\b|^lir\b", re.IGNORECASE),
)
_EXPLICIT_G = re.compile(r"di/dv|didv|^g\b|^g[ _(]|conduct", re.IGNORECASE)
_NOT_FIRST_HARMONIC = re.compile(r"demod\s*[2-9]|[2-9]\s*omega|2f\b|\[bwd\]|\bbwd\b",
                                 re.IGNORECASE)
LOCKIN_SIGNS = ("auto", "+", "-")
LOCKIN_USES = ("X", "R")


def _harmonic_of_demod1(header: Mapping[str, str]) -> float | None:
    return _header_float(header, ("Lock-in>Harmonic D1",))


def _pick_lockin(table: Table, use: str) -> int | None:
    """The first-harmonic lock-in channel (X, or R with use="R"), or None if there is none."""
    patterns = _LOCKIN_R if use == "R" else _LOCKIN_X
    for pattern in patterns:
        for i, name in enumerate(table.names):
            if pattern.search(name) and not _NOT_FIRST_HARMONIC.search(name):
                return i
    return None


def pick_conductance(table: Table, key, exclude: int | None, use: str) -> tuple[int, str]:
    """(column, how it was chosen): the rule of :func:`spectrum_from_table`, also used for the
    channels of Nanonis grid files (``table.names`` is all it looks at when ``key`` is None
    and a channel is named)."""
    if key is not None:
        return table.column(key, "conductance"), "chosen with --g-col"
    named = [i for i, n in enumerate(table.names)
             if i != exclude and _EXPLICIT_G.search(n) and not _NOT_FIRST_HARMONIC.search(n)]
    if named and use == "X":
        return named[0], "named as a conductance"
    i = _pick_lockin(table, use)
    if i is not None and i != exclude:
        return i, f"first-harmonic lock-in {'R' if use == 'R' else 'X'}"
    if use == "R":
        raise AnalysisInputError(f"{table.path}: --use R but no first-harmonic lock-in R "
                                 f"column; columns are: {', '.join(table.names)}")
    return _pick(table, None, "conductance", _G_NAMES, exclude), "by name"


def spectrum_from_table(table: Table, *, bias_col=None, g_col=None,
                        g_unit: str = "auto", sign: str = "auto",
                        use: str = "X") -> SpectrumInput:
    """Pick the bias and conductance columns of a table and build a SpectrumInput.

    The conductance column: ``g_col`` if given; else one named as a conductance (dI/dV, G);
    else the first-harmonic lock-in X (Demod 1 X, LIX 1 omega, LI X, Input 3), never a
    second harmonic, Y or backward-sweep column, whatever the order of the columns; with
    ``use="R"`` the first-harmonic R instead. ``sign``: "+" as recorded, "-" negated (a
    lock-in phase off by 180 degrees), "auto" negated when the high-bias values are negative.
    ``g_unit``: "S", "G0", "GN", "arb" or "auto" (from the column name, else S when every
    |G| < 1e-2, which no normalised spectrum satisfies, else GN).

    From a Nanonis header: the temperature (any "... Temperature ... (K)" entry), the
    modulation (``Lock-in>Amplitude``, read as V rms, the convention of the project's Nanonis
    driver; an entry marked "pk"/"peak" is divided by sqrt 2) and the lock-in settings, all
    kept in ``meta``; what was chosen is listed in ``meta["input_notes"]``."""
    if sign not in LOCKIN_SIGNS:
        raise ValueError(f"sign must be one of {LOCKIN_SIGNS}, got {sign!r}")
    if use not in LOCKIN_USES:
        raise ValueError(f"use must be one of {LOCKIN_USES}, got {use!r}")
    ib = _pick(table, bias_col, "bias", _BIAS_NAMES, None)
    ig, how = pick_conductance(table, g_col, ib, use)
    if ib == ig:
        raise AnalysisInputError(f"{table.path}: bias and conductance are the same column "
                                 f"({table.names[ib]!r})")
    V, G = table.data[:, ib], table.data[:, ig].copy()
    name = table.names[ig]
    if not np.any(np.isfinite(G)):
        raise AnalysisInputError(f"{table.path}: conductance column {name!r} is all NaN")
    notes = [f"conductance from column {name!r} ({how})"]
    check_demod1_harmonic(table.header, name, table.path)
    if use == "X" and sign != "+":
        if sign == "-" or lockin_tails_negative(V, G):
            G = -G
            notes.append("lock-in X negated (" + ("--sign -" if sign == "-" else
                         "its high-bias values are negative: phase off by ~180 degrees; "
                         "--sign + keeps it as recorded") + ")")
    if g_unit == "auto":
        unit = _unit_from_name(name)
        if unit is None:
            finite = np.abs(G[np.isfinite(G)])
            unit = "S" if finite.size and finite.max() < 1e-2 else "GN"
    else:
        unit = g_unit
    T = header_temperature(table.header)
    if T is not None:
        notes.append(f"temperature {T:g} K from the file's header")
    vmod, vmod_note = header_modulation(table.header)
    if vmod_note:
        notes.append(vmod_note)
    lockin = {k: v for k, v in table.header.items() if k.startswith("Lock-in>")}
    meta = dict(table.header)
    meta.update(channel=name, input_notes=notes, lockin=lockin)
    return SpectrumInput(V, G, unit, table.path, 0, T_K=T, Vmod_rms_V=vmod,
                         label=Path(table.path).name, meta=meta)


def _header_float(header: Mapping[str, str], keys: Sequence[str]) -> float | None:
    for key in keys:
        if key in header:
            try:
                value = float(header[key])
            except ValueError:
                continue
            if math.isfinite(value):
                return value
    return None


def check_demod1_harmonic(header: Mapping[str, str], name: str, path: str) -> None:
    """Refuse a demodulator-1 channel that the header sets to a harmonic other than 1."""
    harmonic = _harmonic_of_demod1(header)
    if harmonic is not None and harmonic != 1 and re.search(r"demod\s*1", name, re.I):
        raise AnalysisInputError(
            f"{path}: column {name!r} is demodulator 1, but the header sets it to "
            f"harmonic {harmonic:g} (Lock-in>Harmonic D1): that is not dI/dV; choose the "
            "first-harmonic column with --g-col")


def lockin_tails_negative(bias_V: ArrayLike, G: ArrayLike) -> bool:
    """True when the lock-in X is negative at high |bias| (median over |V| >= 0.7 max|V|):
    its phase is off by ~180 degrees. ``bias_V`` and ``G`` broadcast (a grid's [pixels, n]
    against its bias axis); NaN values are ignored."""
    V, G = np.broadcast_arrays(np.asarray(bias_V, dtype=float), np.asarray(G, dtype=float))
    ok = np.isfinite(G) & np.isfinite(V)
    if not ok.any():
        return False
    reach = np.abs(V[ok]) >= 0.7 * np.max(np.abs(V[ok]))
    tails = float(np.median(G[ok][reach])) if reach.any() else float(np.median(G[ok]))
    return tails < 0


def header_temperature(header: Mapping[str, str]) -> float | None:
    """The temperature in K a Nanonis header records ("Temperature (K)", or any entry named
    "... Temperature ... (K)"), or None."""
    T = _header_float(header, ("Temperature (K)", "T (K)", "Temperature"))
    if T is None:
        T = _header_float(header, [k for k in header
                                   if "temperature" in k.lower() and "(k)" in k.lower()])
    return T


def header_modulation(header: Mapping[str, str]) -> tuple[float | None, str]:
    """(modulation in V rms, how it was read) from a Nanonis header: ``Lock-in>Amplitude`` is
    read as V rms (the convention of the project's Nanonis driver); an entry marked "pk" or
    "peak" is divided by sqrt 2. (None, "") when the header has none."""
    vmod = _header_float(header, ("Modulation (V rms)", "Lock-in>Amplitude"))
    if vmod is None:
        return None, ""
    key = next(k for k in ("Modulation (V rms)", "Lock-in>Amplitude") if k in header)
    if re.search(r"\bpk\b|peak", key + " " + header[key], re.IGNORECASE):
        vmod /= math.sqrt(2.0)
        return vmod, f"modulation {vmod:.3g} V rms from {key!r} (zero-to-peak / sqrt 2)"
    return vmod, f"modulation {vmod:.3g} V rms from {key!r} (read as rms)"
