"""Histograms of a map's quantities, good and poor pixels counted apart (failed and not
applicable pixels carry no usable value and are only counted)."""

from __future__ import annotations

import numpy as np

from .maps_pixels import FAILED, GOOD, NOT_APPLICABLE, POOR, QUANTITIES

DEFAULT_BINS = 30


def map_histograms(results, bins: int = DEFAULT_BINS) -> dict[str, dict]:
    """Per quantity: ``edges`` (bins + 1, in the quantity's units), ``good`` and ``poor``
    counts per bin, ``n_failed`` and ``n_not_applicable``. Bins span the good and poor values
    (1st to 99th percentile, so a few wild poor fits do not squeeze the rest into one bin;
    values outside are counted in the end bins)."""
    out: dict[str, dict] = {}
    for q in QUANTITIES:
        value = np.asarray(results[q].values, dtype=float).ravel()
        grade = np.asarray(results[f"{q}_grade"].values).ravel()
        usable = np.isfinite(value) & ((grade == GOOD) | (grade == POOR))
        if usable.any():
            lo, hi = np.percentile(value[usable], [1, 99])
            if not hi > lo:
                lo, hi = lo - 0.5 * abs(lo or 1.0), hi + 0.5 * abs(hi or 1.0)
        else:
            lo, hi = 0.0, 1.0
        edges = np.linspace(lo, hi, bins + 1)
        counts = {}
        for name, code in (("good", GOOD), ("poor", POOR)):
            sel = usable & (grade == code)
            counts[name] = np.histogram(np.clip(value[sel], lo, hi), edges)[0]
        out[q] = {"edges": edges, **counts,
                  "n_failed": int(np.count_nonzero(grade == FAILED)),
                  "n_not_applicable": int(np.count_nonzero(grade == NOT_APPLICABLE))}
    return out
