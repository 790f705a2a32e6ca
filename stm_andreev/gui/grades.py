"""Fitted numbers as the GUI shows them: always with their uncertainty and their grade.

A value whose fit is poor carries the word "poor" and the reason; a failed fit shows no
number at all (it would look like a measurement). Values that are not fits (the in-line
-d2G/dV2 estimates) say so: "in-line, ungraded". Grade codes follow the map results
(docs: MAPS contract): 0 good, 1 poor, 2 failed, 3 not measured / not applicable.
"""

from __future__ import annotations

import html
import math

GRADES = ("good", "poor", "failed", "not_applicable")
GRADE_COLOURS = {
    "good": "#1b5e20",
    "poor": "#e65100",
    "failed": "#c62828",
    "not_applicable": "#666666",
    "ungraded": "#666666",
}


def grade_name(code: int | str | None) -> str:
    """``"good"``, ``"poor"``, ``"failed"`` or ``"not_applicable"`` from a code or a name."""
    if code is None:
        return "ungraded"
    if isinstance(code, str):
        return code if code in (*GRADES, "ungraded") else "ungraded"
    try:
        return GRADES[int(code)]
    except (IndexError, ValueError):
        return "ungraded"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(float(x))


def format_number(value: float, sigma: float | None) -> str:
    """``value ± sigma`` rounded to two significant digits of sigma (value alone, to 3
    significant digits, when sigma is unknown)."""
    if not _finite(sigma) or sigma <= 0:
        return f"{value:.3g}"
    decimals = max(0, 1 - int(math.floor(math.log10(abs(sigma)))))
    if decimals > 6:  # tiny sigma: scientific notation keeps it readable
        return f"{value:.4g} ± {sigma:.2g}"
    return f"{value:.{decimals}f} ± {sigma:.{decimals}f}"


def value_text(value: float | None, sigma: float | None, grade: int | str | None, *,
               scale: float = 1.0, unit: str = "", reason: str = "") -> str:
    """Plain text of one fitted value: ``"650 ± 12 µeV (good)"``, ``"650 ± 40 µeV (poor:
    reason)"``, ``"failed: reason"`` (no number), ``"n/a"``; the uncertainty is called
    unknown where it is."""
    name = grade_name(grade)
    why = f": {reason}" if reason else ""
    if name == "failed":
        return f"failed{why}"
    if name == "not_applicable" or not _finite(value):
        return "n/a" + (f" ({reason})" if reason else "")
    number = format_number(float(value) * scale, float(sigma) * scale if _finite(sigma)
                           else None)
    unit_text = f" {unit}" if unit else ""
    tags = [] if _finite(sigma) else ["uncertainty unknown"]
    tags.append(name + ("" if name == "good" else why))
    return f"{number}{unit_text} ({'; '.join(tags)})"


def value_html(value: float | None, sigma: float | None, grade: int | str | None, *,
               scale: float = 1.0, unit: str = "", reason: str = "") -> str:
    """:func:`value_text` coloured by its grade (rich text for a QLabel)."""
    colour = GRADE_COLOURS[grade_name(grade)]
    text = html.escape(value_text(value, sigma, grade, scale=scale, unit=unit, reason=reason))
    return f"<span style='color:{colour}'>{text}</span>"


#: (label, SpectrumResult value attribute, its sigma attribute, display scale, unit).
RESULT_FIELDS = (
    ("E_g", "E_g_eV", "E_g_err_eV", 1e6, "µeV"),
    ("Δc", "delta_c_eV", "delta_c_err_eV", 1e6, "µeV"),
    ("Γ", "gamma_eV", "gamma_err_eV", 1e6, "µeV"),
    ("Z", "Z", "Z_err", 1.0, ""),
    ("G_N", "G_N_G0", None, 1.0, "× 2e²/h"),
)


def result_lines(result) -> list[tuple[str, str]]:
    """(label, rich text) of every fitted number of a pipeline ``SpectrumResult``, each with
    its uncertainty and the fit's grade (and why it is not good)."""
    lines = []
    reason = "" if result.quality == "good" else result.quality_reason
    for label, attr, err_attr, scale, unit in RESULT_FIELDS:
        value = getattr(result, attr)
        sigma = getattr(result, err_attr) if err_attr else None
        if attr == "delta_c_eV" and value is None:
            lines.append((label, value_html(None, None, "not_applicable",
                                            reason="no Andreev peaks")))
            continue
        if attr == "Z" and value is None:
            lines.append((label, value_html(None, None, "not_applicable",
                                            reason=f"{result.model} has no barrier")))
            continue
        if attr == "G_N_G0" and value is not None:
            # G_N is the normal-state scale (outer tails times the fitted scale); its
            # uncertainty is not propagated by the pipeline, and the text says so.
            sigma = None
        lines.append((label, value_html(value, sigma, result.quality, scale=scale, unit=unit,
                                        reason=reason)))
    return lines


def result_html(result, sep: str = "<br>") -> str:
    """Rich text: model, grade with reason, then every value (see :func:`result_lines`),
    separated by ``sep``."""
    colour = GRADE_COLOURS[grade_name(result.quality)]
    head = (f"<b>{html.escape(result.model)}</b> fit, grade "
            f"<b style='color:{colour}'>{html.escape(result.quality)}</b>"
            f" <small>({html.escape(result.quality_reason)})</small>")
    rows = sep.join(f"{html.escape(k)} = {v}" for k, v in result_lines(result))
    return f"{head}{sep}{rows}"
