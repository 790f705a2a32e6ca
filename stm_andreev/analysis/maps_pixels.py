"""One block of pixels through the single-spectrum pipeline, in a worker.

Each pixel is :func:`~stm_andreev.analysis.pipeline.analyze_spectrum` on its own spectrum (the
same normalisation, -d2G/dV2 peaks, model choice by evidence, fits and grades as every other
spectrum the project analyses); this module only turns a block of the cube into spectra and
the results into the numbers of the maps. With ``neighbours`` a pixel whose fit is not good is
analysed again with the two-gap solutions of its good neighbours in the block as extra
starts (like a temperature series is reseeded from the previous temperature), and the new
analysis is kept only when it is better graded or fits better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from stm_andreev.allocator import keep_freed_memory

from .errors import AnalysisInputError, FitError
from .inputs import SpectrumInput
from .pipeline import Analysis, analyze_spectrum

QUANTITIES: tuple[str, ...] = ("E_g", "Delta_c", "Gamma", "Z", "G_N")
GOOD, POOR, FAILED, NOT_APPLICABLE = 0, 1, 2, 3
GRADE_CODES = {"good": GOOD, "poor": POOR, "failed": FAILED}
FLAG_MEANINGS = "good poor failed not_applicable"

# Per-pixel columns of the auxiliary array sent with each block (one float64 array, so a
# block is two arrays however many per-pixel values there are).
AUX = ("T_K", "pos_x_m", "pos_y_m", "done", "index")


@dataclass(frozen=True)
class PixelResult:
    """The maps' numbers of one pixel: per quantity (value, 1-sigma, grade code), the model
    and why the grade is what it is. NaN values where not measured or not applicable."""

    values: tuple[tuple[float, float, int], ...]  # in the order of QUANTITIES
    model: str
    reason: str
    chi2_noise: float


def not_measured(reason: str, grade: int = NOT_APPLICABLE, model: str = "") -> PixelResult:
    """A pixel without numbers: every quantity NaN with the grade given."""
    nan = (math.nan, math.nan, grade)
    return PixelResult(tuple(nan for _ in QUANTITIES), model, reason, math.nan)


def _num(x: float | None) -> float:
    return math.nan if x is None or not math.isfinite(x) else float(x)


def pixel_result(a: Analysis) -> PixelResult:
    """The map values of one analysed spectrum. Delta_c is the collective gap of the two-gap
    fit (the -d2G/dV2 pair cross-checks it where resolved; a grid's short spectra often have
    too coarse a bias step to resolve the pair); other models have no Andreev channel, so
    Delta_c is not applicable there, as Z is for a Dynes (tunnelling) fit and G_N for a
    spectrum without an absolute scale."""
    r = a.result
    grade = GRADE_CODES[r.quality]
    if r.delta_c_eV is not None:
        dc, dc_err = r.delta_c_eV, r.delta_c_err_eV
    else:
        dc, dc_err = r.delta_c_fit_eV, r.delta_c_fit_err_eV
    G_N_err = None
    if r.G_N_S is not None and a.fit is not None:
        rel = a.fit.errors.get("scale", math.nan) / a.fit.params["scale"]
        G_N_err = abs(r.G_N_S * rel)

    def entry(value: float | None, err: float | None) -> tuple[float, float, int]:
        if value is None:
            return math.nan, math.nan, NOT_APPLICABLE
        return _num(value), _num(err), grade

    values = (entry(r.E_g_eV, r.E_g_err_eV),
              entry(dc if r.model == "two_gap" else None, dc_err),
              entry(r.gamma_eV, r.gamma_err_eV),
              entry(r.Z if r.model != "dynes" else None, r.Z_err),
              entry(r.G_N_S, G_N_err))
    return PixelResult(values, r.model, r.quality_reason, _num(r.chi2_noise))


def pixel_spectrum(G_row: np.ndarray, bias_V: np.ndarray, unit: str, aux_row: np.ndarray, *,
                   Vmod_rms_V: float | None, default_T_K: float | None,
                   source: str) -> SpectrumInput:
    """One pixel's spectrum as the pipeline takes it (index: the pixel's raster index)."""
    T, x, y, _done, index = (float(v) for v in aux_row)
    return SpectrumInput(
        bias_V=bias_V, G=np.asarray(G_row, dtype=float), G_unit=unit,  # type: ignore[arg-type]
        source=source, index=int(index),
        T_K=T if math.isfinite(T) and T > 0 else default_T_K,
        Vmod_rms_V=Vmod_rms_V,
        tip_x_m=x if math.isfinite(x) else None,
        tip_y_m=y if math.isfinite(y) else None,
        label=f"pixel {int(index)}",
    )


def _rank(a: Analysis) -> tuple[int, float]:
    chi2 = a.result.chi2_noise
    return GRADE_CODES[a.result.quality], chi2 if chi2 is not None else math.inf


def analyze_pixel(spec: SpectrumInput, prior: list[dict[str, float]] | None = None
                  ) -> Analysis | PixelResult:
    """The pipeline on one pixel; a pixel that cannot be analysed gives a failed PixelResult
    naming why (the rest of the map goes on)."""
    try:
        return analyze_spectrum(spec, prior=prior)
    except (FitError, AnalysisInputError) as exc:
        return not_measured(f"not analysed: {exc}", FAILED)


def analyze_block(G: np.ndarray, aux: np.ndarray, *, bias_V: np.ndarray, unit: str,
                  Vmod_rms_V: float | None, default_T_K: float | None, source: str,
                  neighbours: bool = False) -> np.ndarray:
    """PixelResults (object array (cy, cx)) of a block G (cy, cx, n_bias) with its per-pixel
    ``aux`` (cy, cx, len(AUX)); pixels not done are "not measured".

    Whatever process runs the block keeps freed memory for reuse from then on (see
    :mod:`stm_andreev.allocator`: page faults cost dask.distributed's workers a third of
    the CPU of a spectrum)."""
    keep_freed_memory()
    cy, cx = G.shape[:2]
    out = np.empty((cy, cx), dtype=object)
    analyses: dict[tuple[int, int], Analysis] = {}
    specs: dict[tuple[int, int], SpectrumInput] = {}
    for iy in range(cy):
        for ix in range(cx):
            if not aux[iy, ix, AUX.index("done")]:
                out[iy, ix] = not_measured("not measured")
                continue
            try:
                spec = pixel_spectrum(G[iy, ix], bias_V, unit, aux[iy, ix], source=source,
                                      Vmod_rms_V=Vmod_rms_V, default_T_K=default_T_K)
            except AnalysisInputError as exc:
                out[iy, ix] = not_measured(f"not analysed: {exc}", FAILED)
                continue
            got = analyze_pixel(spec)
            if isinstance(got, PixelResult):
                out[iy, ix] = got
            else:
                analyses[iy, ix], specs[iy, ix] = got, spec
    if neighbours:
        _reseed_from_neighbours(analyses, specs)
    for key, a in analyses.items():
        out[key] = pixel_result(a)
    return out


def _reseed_from_neighbours(analyses: dict[tuple[int, int], Analysis],
                            specs: dict[tuple[int, int], SpectrumInput]) -> None:
    """Pixels not graded good, analysed again with their good neighbours' two-gap solutions
    (8-neighbourhood within the block) as extra starts; the better analysis is kept."""
    good = {k: a for k, a in analyses.items() if a.result.quality == "good"}
    for (iy, ix), a in list(analyses.items()):
        if a.result.quality == "good":
            continue
        prior = [n.candidates["two_gap"].params
                 for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                 if (n := good.get((iy + dy, ix + dx))) is not None
                 and "two_gap" in n.candidates]
        if not prior:
            continue
        again = analyze_pixel(specs[iy, ix], prior=prior[:4])
        if isinstance(again, Analysis) and _rank(again) < _rank(a):
            notes = (*again.result.notes, "refitted from neighbouring pixels' two-gap "
                     "solutions")
            analyses[iy, ix] = replace(again, result=replace(again.result, notes=notes))
