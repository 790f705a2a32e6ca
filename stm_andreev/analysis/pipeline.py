"""One spectrum in, one :class:`SpectrumResult` out: normalise, classify, fit, find peaks.

Contact models are fitted unless G_N < 0.1 G0: plain BTK, and the two-gap model seeded by the
symmetric pair of -d2G/dV2 maxima when there is one. The two-gap model is kept only if it fits
clearly better (chi-square below ``TWO_GAP_GAIN`` of BTK's) with Delta_c inside E_g. If G_N or
the kept model's Z says "tunnelling", the Dynes fit is used instead, unless the two-gap fit
describes the spectrum clearly better (Andreev peaks just above Z = 3).

The Andreev peaks are then searched inside the fitted E_g. Delta_c is reported from the
two-gap fit: the -d2G/dV2 maxima sit below Delta_c (2-15 ueV at 65 mK, more at high
transparency and modulation, 30-40 ueV at 0.4-0.6 K) because thermal and lock-in smearing act
on an asymmetric peak. The fitted curve's own maxima measure that shift; the measured pair
corrected by it cross-checks the fit, and the disagreement enters the uncertainty. The raw
pair is kept as ``delta_c_peak_eV``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from stm_andreev.physics import G0_S

from .errors import FitError
from .fits import UEV, FitResult, best_fit
from .inputs import SpectrumInput
from .normalize import normalize
from .peaks import AndreevPeaks, find_andreev_peaks
from .regime import classify_regime
from .results import SpectrumResult

log = logging.getLogger(__name__)

DEFAULT_T_K = 0.065
TWO_GAP_GAIN = 0.8
INNER_FRACTION = 0.85
COARSE_STEP_V = 30e-6  # beyond this the -d2G/dV2 window is wider than an Andreev peak


@dataclass(frozen=True)
class Analysis:
    """The result and the intermediate pieces the figures need."""

    spectrum: SpectrumInput
    result: SpectrumResult
    bias_V: np.ndarray  # sorted ascending
    g: np.ndarray  # G / G_N (outer-tail estimate)
    G_N: float  # in the input's units
    fit: FitResult | None
    peaks: AndreevPeaks


def _sorted(spec: SpectrumInput) -> tuple[np.ndarray, np.ndarray]:
    V = np.asarray(spec.bias_V, dtype=float)
    G = np.asarray(spec.G, dtype=float)
    ok = np.isfinite(V) & np.isfinite(G)
    order = np.argsort(V[ok], kind="stable")
    return V[ok][order], G[ok][order]


def _gap_seed(V: np.ndarray, g: np.ndarray) -> float:
    """Coherence-peak position: the largest G on each side, averaged (V).

    Searched inside 85 % of the sweep; a maximum on that boundary means no peak (a gap
    smeared near Tc, or G rising to the sweep's end), and 40 % of the sweep is used instead.
    """
    reach = float(np.max(np.abs(V)))
    edges = []
    for side in (V > 0, V < 0):
        inner = side & (np.abs(V) < 0.85 * reach)
        if not inner.any():
            return 0.4 * reach
        k = int(np.argmax(g[inner]))
        if k in (0, int(inner.sum()) - 1):
            return 0.4 * reach
        edges.append(abs(float(V[inner][k])))
    return float(np.mean(edges))


def _zero_bias(V: np.ndarray, g: np.ndarray) -> float:
    return float(np.interp(0.0, V, g))


def _fit_dynes(V, g, smearing) -> FitResult:
    Eg = max(_gap_seed(V, g), 30 * UEV)
    g0 = min(max(_zero_bias(V, g), 1e-3), 0.9)
    gamma = float(np.clip(g0 * Eg / np.sqrt(1 - g0**2), 2 * UEV, 0.5 * Eg))
    starts = [{"E_g_eV": Eg, "gamma_eV": gamma}, {"E_g_eV": 0.9 * Eg, "gamma_eV": 0.5 * gamma}]
    return best_fit("dynes", V, g, starts=starts, **smearing)


def _btk_barrier_seed(g0: float) -> float:
    """Z from the zero-bias conductance by the T = 0 BTK limit 2(1+Z^2)/(1+2Z^2)^2 = g(0)."""
    if g0 >= 1.99:
        return 0.05
    Z = np.linspace(0.0, 10.0, 2001)
    limit = 2 * (1 + Z**2) / (1 + 2 * Z**2) ** 2
    return float(Z[np.argmin(np.abs(limit - g0))])


def _fit_btk(V, g, smearing, gap_seeds: list[float]) -> FitResult:
    Z0 = _btk_barrier_seed(_zero_bias(V, g))
    starts = [{"Z": Z, "delta_eV": gap, "gamma_eV": 0.05 * gap}
              for gap, Z in zip(gap_seeds[:2], (Z0, 1.5 * Z0 + 0.3), strict=False)]
    return best_fit("btk", V, g, starts=starts, **smearing)


def _fit_two_gap(V, g, smearing, btk: FitResult, pairs: tuple[float, ...]) -> FitResult | None:
    # The outermost structure (coherence peaks, or the largest -d2G/dV2 pair) seeds E_g; the
    # pairs well inside it seed Delta_c. Without one (merged peaks near Tc, or a pseudogap
    # above it) Delta_c is seeded well inside the gap.
    top = max(_gap_seed(V, g), *pairs) if pairs else _gap_seed(V, g)
    seeds = [(dc, top) for dc in pairs if dc < INNER_FRACTION * top][:2]
    if pairs:
        # In good contact the coherence peaks can be too weak to show (the strongest pair
        # and the largest G are then the Andreev peaks): also try E_g well outside it.
        seeds.append((pairs[0], 3.0 * pairs[0]))
    else:
        seeds.append((0.25 * top, top))
    # The BTK fit of a two-gap spectrum may have wandered off (to its Z bound, or to a high
    # barrier that mimics the E_g edge); seed from the data unless its values look sane.
    Z = btk.params["Z"] if 0.1 < btk.params["Z"] < 3 else _btk_barrier_seed(_zero_bias(V, g))
    starts = [{"Z": Z, "delta_c_eV": dc, "E_g_eV": Eg, "gamma_eV": 40 * UEV,
               "gamma_c_eV": 8 * UEV} for dc, Eg in dict.fromkeys(seeds)]
    try:
        return best_fit("two_gap", V, g, starts=starts, **smearing)
    except FitError as exc:
        log.info("two-gap fit failed: %s", exc)
        return None


def _delta_c(V, fit: FitResult, peaks: AndreevPeaks, E_g: float) -> tuple[float, float]:
    """Delta_c and its uncertainty from the two-gap fit, cross-checked by the peak pair.

    The -d2G/dV2 maxima of the fitted curve itself show how far the smearing moves the pair
    from Delta_c; the measured pair corrected by that offset is an independent estimate, and
    its disagreement with the fit is added to the uncertainty.
    """
    dc_fit, dc_err = fit.params["delta_c_eV"], fit.errors["delta_c_eV"]
    assert peaks.delta_c_eV is not None and peaks.delta_c_err_eV is not None
    model = find_andreev_peaks(V, fit.curve(V), E_g_eV=E_g, source="fit")
    if model.found and model.delta_c_eV is not None:
        corrected = peaks.delta_c_eV + (dc_fit - model.delta_c_eV)
        return dc_fit, float(np.sqrt(dc_err**2 + peaks.delta_c_err_eV**2
                                     + (corrected - dc_fit) ** 2))
    return dc_fit, float(np.hypot(dc_err, peaks.delta_c_err_eV))


def _fit_contact(V, g, smearing, peaks0: AndreevPeaks) -> FitResult:
    """Plain BTK and the two-gap model (seeded by the -d2G/dV2 pair if there is one); the
    two-gap fit wins only if clearly better and with Delta_c inside E_g."""
    btk = _fit_btk(V, g, smearing, [_gap_seed(V, g), *peaks0.pairs_eV[:1]])
    two_gap = _fit_two_gap(V, g, smearing, btk, peaks0.pairs_eV)
    if two_gap is not None and (
        two_gap.chi2_red < TWO_GAP_GAIN * btk.chi2_red
        and two_gap.params["delta_c_eV"] < INNER_FRACTION * two_gap.params["E_g_eV"]
    ):
        return two_gap
    return btk


def analyze_spectrum(
    spec: SpectrumInput, *, T_K: float | None = None, Vmod_rms_V: float | None = None
) -> Analysis:
    """Analyse one spectrum. ``T_K`` (K) and ``Vmod_rms_V`` (V rms) override what the input
    recorded; without either, 65 mK and no modulation are assumed (and noted)."""
    notes: list[str] = []
    T = T_K if T_K is not None else spec.T_K
    if T is None or not np.isfinite(T) or T <= 0:
        notes.append(f"temperature unknown: assumed {DEFAULT_T_K} K")
        T = DEFAULT_T_K
    vmod = Vmod_rms_V if Vmod_rms_V is not None else spec.Vmod_rms_V
    if vmod is None or not np.isfinite(vmod) or vmod < 0:
        notes.append("modulation unknown: assumed 0 V rms")
        vmod = 0.0
    smearing = {"T_K": float(T), "Vmod_rms_V": float(vmod)}
    V, G = _sorted(spec)
    g, G_N = normalize(V, G)
    G_S = spec.G_S
    G_N_S = G_N * (G0_S if spec.G_unit == "G0" else 1.0) if G_S is not None else None

    peaks0 = find_andreev_peaks(V, g, source=spec.source)
    regime = classify_regime(G_N_S=G_N_S) if G_N_S is not None else None
    contact: FitResult | None = None
    if regime != "tunnelling":
        contact = _fit_contact(V, g, smearing, peaks0)
        # The better contact model's barrier decides (plain BTK alone would call a two-gap
        # contact "tunnelling": it explains the E_g edge with a high barrier).
        regime = classify_regime(G_N_S=G_N_S, Z=contact.params["Z"])
    fit = contact
    if regime == "tunnelling":
        fit = _fit_dynes(V, g, smearing)
        if (contact is not None and contact.model == "two_gap"
                and contact.chi2_red < TWO_GAP_GAIN * fit.chi2_red):
            # Andreev structure that the Dynes DOS cannot describe (Z just above 3).
            fit = contact
    assert fit is not None
    key = {"dynes": "E_g_eV", "btk": "delta_eV", "two_gap": "E_g_eV"}[fit.model]
    E_g, E_g_err = fit.params[key], fit.errors[key]

    peaks = find_andreev_peaks(V, g, E_g_eV=E_g, source=spec.source)
    delta_c = delta_c_err = None
    if peaks.found:
        if fit.model == "two_gap":
            delta_c, delta_c_err = _delta_c(V, fit, peaks, E_g)
        else:
            delta_c, delta_c_err = peaks.delta_c_eV, peaks.delta_c_err_eV
            notes.append(f"Andreev pair found but the {fit.model} model was kept: Delta_c is "
                         "the raw -d2G/dV2 pair")
    step = peaks.derivative.step_V
    if not peaks.found and step > COARSE_STEP_V:
        notes.append(f"bias step {step * 1e6:.0f} uV is too coarse to resolve Andreev peaks "
                     "by -d2G/dV2 (a 5-point window spans "
                     f"{4 * step * 1e6:.0f} uV); see delta_c_fit_eV")
    dc_fit_at_bound = "delta_c_eV" in fit.at_bound
    if dc_fit_at_bound:
        notes.append("two-gap fit: Delta_c at its lower bound (no Andreev channel left)")
    scale = fit.params["scale"]
    result = SpectrumResult(
        source=spec.source,
        index=spec.index,
        regime=regime,
        model=fit.model,
        andreev_peaks=peaks.found,
        delta_c_eV=delta_c,
        delta_c_err_eV=delta_c_err,
        delta_c_peak_eV=peaks.delta_c_eV,
        delta_c_fit_eV=None if dc_fit_at_bound else fit.params.get("delta_c_eV"),
        delta_c_fit_err_eV=None if dc_fit_at_bound else fit.errors.get("delta_c_eV"),
        E_g_eV=E_g,
        E_g_err_eV=E_g_err,
        gamma_eV=fit.params["gamma_eV"],
        gamma_err_eV=fit.errors["gamma_eV"],
        gamma_c_eV=fit.params.get("gamma_c_eV"),
        Z=fit.params.get("Z"),
        Z_err=fit.errors.get("Z"),
        G_N_S=G_N_S * scale if G_N_S is not None else None,
        G_N_G0=G_N_S * scale / G0_S if G_N_S is not None else None,
        T_K=float(T),
        Vmod_rms_V=float(vmod),
        chi2_red=fit.chi2_red,
        fit_rms=fit.rms,
        peak_reason=peaks.reason,
        zero_bias_peak=peaks.zero_bias_peak,
        setpoint_G_S=spec.setpoint_G_S,
        tip_x_m=spec.tip_x_m,
        tip_y_m=spec.tip_y_m,
        label=spec.label,
        notes=tuple(notes),
    )
    return Analysis(spec, result, V, g, G_N, fit, peaks)
