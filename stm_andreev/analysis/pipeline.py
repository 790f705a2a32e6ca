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
from dataclasses import dataclass, field, replace

import numpy as np

from stm_andreev.blas import single_threaded
from stm_andreev.physics import G0_S

from .derivative import smearing_width_V
from .errors import AnalysisInputError, FitError
from .fits import MODELS, UEV, FitResult, best_fit, screen_starts
from .inputs import SpectrumInput
from .normalize import normalize
from .peaks import AndreevPeaks, find_andreev_peaks
from .quality import estimate_spectrum_noise, grade, information_criterion
from .regime import classify_regime
from .results import SpectrumResult

log = logging.getLogger(__name__)

DEFAULT_T_K = 0.065
GOOD_ENOUGH = 1.3  # chi2_red / sigma^2 at which a multi-start stops looking further
AMBIGUOUS_DBIC = 10.0
COMPETITIVE_DBIC = 200.0  # a model this far behind the best is not refined further  # BIC difference below which two models are not told apart
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
    candidates: dict[str, FitResult] = field(default_factory=dict)  # every model fitted


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


def _multistart(model: str, V, g, smearing, starts: list[dict[str, float]],
                refine: int, sigma: float,
                bounds: dict[str, tuple[float, float]] | None = None) -> FitResult:
    """Rank ``starts`` by one batched evaluation, then refine the best ``refine`` distinct ones
    by least squares, best first, until one fits to the noise (``sigma``); the lowest
    chi-square wins."""
    starts = [dict(s) for s in {tuple(sorted(s.items())): s for s in starts}.values()]
    order = np.argsort(screen_starts(model, V, g, starts, **smearing))
    chosen: list[dict[str, float]] = []
    for k in order:
        s = starts[int(k)]
        if all(max(abs(s[n] - c[n]) / max(abs(c[n]), 1e-12) for n in s) > 0.1 for c in chosen):
            chosen.append(s)
        if len(chosen) == refine:
            break
    return best_fit(model, V, g, starts=chosen, good_enough=GOOD_ENOUGH * sigma**2,
                    fixed_bounds=bounds, **smearing)


def _fit_dynes(V, g, smearing, sigma: float, refine: int = 2) -> FitResult:
    Eg = max(_gap_seed(V, g), 30 * UEV)
    g0 = min(max(_zero_bias(V, g), 1e-3), 0.9)
    gamma = float(np.clip(g0 * Eg / np.sqrt(1 - g0**2), 2 * UEV, 0.5 * Eg))
    starts = [{"E_g_eV": Eg, "gamma_eV": gamma}, {"E_g_eV": 0.9 * Eg, "gamma_eV": 0.5 * gamma}]
    return best_fit("dynes", V, g, starts=starts[:refine], good_enough=GOOD_ENOUGH * sigma**2,
                    **smearing)


def _btk_barrier_seed(g0: float) -> float:
    """Z from the zero-bias conductance by the T = 0 BTK limit 2(1+Z^2)/(1+2Z^2)^2 = g(0)."""
    if g0 >= 1.99:
        return 0.05
    Z = np.linspace(0.0, 10.0, 2001)
    limit = 2 * (1 + Z**2) / (1 + 2 * Z**2) ** 2
    return float(Z[np.argmin(np.abs(limit - g0))])


def _gap_seeds(V, g, dynes: FitResult | None, extra: tuple[float, ...] = ()) -> list[float]:
    """Candidate single-particle gaps: the coherence-peak position, the Dynes fit's E_g and
    ``extra``, those within 5 % of an earlier one dropped."""
    seeds: list[float] = []
    for gap in (_gap_seed(V, g), *([dynes.params["E_g_eV"]] if dynes else []), *extra):
        gap = max(float(gap), 30 * UEV)
        if all(abs(gap - s) > 0.05 * s for s in seeds):
            seeds.append(gap)
    return seeds


def _fit_btk(V, g, smearing, gaps: list[float], dynes: FitResult | None,
             sigma: float, refine: int = 3) -> FitResult:
    Z0 = _btk_barrier_seed(_zero_bias(V, g))
    # Broadenings below 10 ueV would put the whole screen on a needlessly fine energy grid.
    gammas = {max(0.05 * gap, 10 * UEV) for gap in gaps}
    if dynes is not None:
        gammas.add(max(dynes.params["gamma_eV"], 10 * UEV))
    starts = [{"Z": Z, "delta_eV": gap, "gamma_eV": gm, "scale": 1.0}
              for gap in gaps for Z in (Z0, 0.5, 1.0, 5.0, 12.0) for gm in gammas]
    return _multistart("btk", V, g, smearing, starts, refine=refine, sigma=sigma)


def _fit_two_gap(V, g, smearing, btk: FitResult, gaps: list[float], pairs: tuple[float, ...],
                 prior: list[dict[str, float]], sigma: float,
                 delta_c_max: float | None = None) -> FitResult | None:
    """Multi-start two-gap fit. The starts do not depend on the -d2G/dV2 detector: a grid of
    Delta_c fractions of each candidate E_g, barriers and Andreev broadenings, ranked by one
    batched evaluation; the detector's pairs and ``prior`` solutions (e.g. the previous
    temperature of a series) are further starts, not the only ones."""
    Zs = {round(float(np.clip(btk.params["Z"], 0.05, 3.0)), 2), 1.0}
    gamma = float(np.clip(btk.params["gamma_eV"], 10 * UEV, 200 * UEV))
    # E_g: the data's candidates and a geometric grid over the sweep (a coherence peak too
    # weak to show, or smeared near Tc, is not missed); Delta_c: fractions of each. Z and the
    # broadenings are smooth directions for the optimiser and get few values.
    reach = float(np.max(np.abs(V)))
    grid = np.geomspace(100 * UEV, 0.6 * reach, 4) if reach > 170 * UEV else []
    E_gs = list(gaps) + [float(x) for x in grid if all(abs(x - s) > 0.15 * s for s in gaps)]
    starts = [{"Z": Z, "delta_c_eV": f * Eg, "E_g_eV": Eg, "gamma_eV": gamma,
               "gamma_c_eV": 12 * UEV, "scale": 1.0}
              for Eg in E_gs for f in (0.15, 0.3, 0.5, 0.7) for Z in Zs]
    # The limit of no Andreev channel (Delta_c at its bound: quasiparticles only, a contact
    # above Tc), which neither Dynes nor BTK describes.
    starts += [{"Z": Z, "delta_c_eV": 21 * UEV, "E_g_eV": Eg, "gamma_eV": gamma,
                "gamma_c_eV": 12 * UEV, "scale": 1.0} for Eg in gaps for Z in Zs]
    # The detector's pairs are further starts: each inner pair inside each outer structure.
    outer = (*gaps, *pairs)
    for dc in pairs[:3]:
        for Eg in (*outer, 3.0 * dc):
            if dc < INNER_FRACTION * Eg:
                starts += [{"Z": Z, "delta_c_eV": dc, "E_g_eV": Eg, "gamma_eV": gamma,
                            "gamma_c_eV": 12 * UEV, "scale": 1.0} for Z in Zs]
    for p in prior:
        starts.append({n: float(p[n]) for n in MODELS["two_gap"] if n in p} | {"scale": 1.0})
    bounds = None
    if delta_c_max is not None:
        bounds = {"delta_c_eV": (20 * UEV, delta_c_max)}
        starts = [s | {"delta_c_eV": min(s["delta_c_eV"], 0.9 * delta_c_max)} for s in starts]
    try:
        return _multistart("two_gap", V, g, smearing, starts, refine=3, sigma=sigma,
                           bounds=bounds)
    except FitError as exc:
        log.info("two-gap fit failed: %s", exc)
        return None


def _delta_c(V, fit: FitResult, peaks: AndreevPeaks, E_g: float,
             smearing_fwhm_V: float | None = None) -> tuple[float, float]:
    """Delta_c and its uncertainty from the two-gap fit, cross-checked by the peak pair.

    The -d2G/dV2 maxima of the fitted curve itself show how far the smearing moves the pair
    from Delta_c; the measured pair corrected by that offset is an independent estimate, and
    its disagreement with the fit is added to the uncertainty.
    """
    dc_fit, dc_err = fit.params["delta_c_eV"], fit.errors["delta_c_eV"]
    assert peaks.delta_c_eV is not None and peaks.delta_c_err_eV is not None
    model = find_andreev_peaks(V, fit.curve(V), E_g_eV=E_g, source="fit",
                               smearing_fwhm_V=smearing_fwhm_V)
    if model.found and model.delta_c_eV is not None:
        corrected = peaks.delta_c_eV + (dc_fit - model.delta_c_eV)
        return dc_fit, float(np.sqrt(dc_err**2 + peaks.delta_c_err_eV**2
                                     + (corrected - dc_fit) ** 2))
    return dc_fit, float(np.hypot(dc_err, peaks.delta_c_err_eV))


@dataclass(frozen=True)
class _Choice:
    fit: FitResult
    delta_bic: dict[str, float]  # every candidate's BIC minus the chosen one's
    ambiguous: bool
    text: str
    notes: tuple[str, ...]


def _candidates(V, g, smearing, peaks0: AndreevPeaks, prior: list[dict[str, float]],
                sigma: float) -> tuple[dict[str, FitResult], list[str]]:
    """Fit every model: Dynes, BTK and the two-gap model (kept as a candidate only with a
    collective gap distinct from E_g)."""
    notes: list[str] = []
    fits: dict[str, FitResult] = {}
    try:
        fits["dynes"] = _fit_dynes(V, g, smearing, sigma, refine=1)
    except FitError as exc:
        notes.append(f"Dynes fit failed: {exc}")
    dynes = fits.get("dynes")
    gaps = _gap_seeds(V, g, dynes)
    try:
        fits["btk"] = _fit_btk(V, g, smearing, gaps, dynes, sigma, refine=1)
    except FitError as exc:
        notes.append(f"BTK fit failed: {exc}")
    btk = fits.get("btk")
    if btk is not None:
        # Also in tunnelling: with a Dynes broadening the model's Andreev term does not vanish
        # as Z grows, so a collective gap distinct from E_g changes the coherence peaks.
        gaps2 = _gap_seeds(V, g, dynes, (btk.params["delta_eV"],))
        two_gap = _fit_two_gap(V, g, smearing, btk, gaps2, peaks0.pairs_eV, prior, sigma)
        if two_gap is not None and \
                two_gap.params["delta_c_eV"] >= INNER_FRACTION * two_gap.params["E_g_eV"]:
            # A Delta_c above E_g (an unphysical, flat Andreev channel) can fit as well as the
            # physical solution: look for that one with Delta_c held inside the gap.
            again = _fit_two_gap(V, g, smearing, btk, gaps2, peaks0.pairs_eV, prior, sigma,
                                 delta_c_max=0.7 * max(gaps2))
            if again is not None and again.chi2_red <= max(
                    two_gap.chi2_red, GOOD_ENOUGH * sigma**2):
                two_gap = again
        if two_gap is not None:
            dc, Eg = two_gap.params["delta_c_eV"], two_gap.params["E_g_eV"]
            # Delta_c at its lower bound is a valid answer (quasiparticles only, no Andreev
            # channel: a contact above Tc); Delta_c reaching E_g is plain BTK again.
            if dc >= INNER_FRACTION * Eg:
                notes.append("two-gap fit has no distinct Andreev channel (Delta_c "
                             f"{dc / UEV:.0f} ueV, E_g {Eg / UEV:.0f} ueV): not a candidate")
            else:
                fits["two_gap"] = two_gap
    if not fits:
        raise FitError("; ".join(notes) or "no model could be fitted")
    # Dynes and BTK were refined from their best start only. Where one of them competes with
    # the best model, its other starts are refined too (a local minimum must not decide the
    # model); where it is far behind, no other minimum of it could matter.
    n = V.size
    bic = {m: information_criterion(f.chi2_sum, sigma, len(MODELS[m]), n)
           for m, f in fits.items()}
    best = min(bic.values())
    for m, refit in (("dynes", lambda: _fit_dynes(V, g, smearing, sigma)),
                     ("btk", lambda: _fit_btk(V, g, smearing, gaps, dynes, sigma))):
        if m in fits and bic[m] - best < COMPETITIVE_DBIC and \
                fits[m].chi2_red > GOOD_ENOUGH * sigma**2:
            try:
                again = refit()
            except FitError:
                continue
            if again.chi2_red < fits[m].chi2_red:
                fits[m] = again
    return fits, notes


def _choose(fits: dict[str, FitResult], sigma: float, n: int) -> _Choice:
    """The model with the lowest BIC, except that a model with more parameters must beat every
    simpler one by AMBIGUOUS_DBIC: without decisive evidence the simpler one is reported
    (no Andreev channel is claimed that the data do not demand), and the choice is called
    ambiguous when the runner-up makes a different physical claim."""
    bic = {m: information_criterion(f.chi2_sum, sigma, len(MODELS[m]), n)
           for m, f in fits.items()}
    best = min(bic, key=bic.__getitem__)
    chosen = best
    for m in sorted(fits, key=lambda m: len(MODELS[m])):
        if bic[m] - bic[best] < AMBIGUOUS_DBIC:
            chosen = m
            break
    delta = {m: float(bic[m] - bic[chosen]) for m in fits}
    close = [m for m in fits if m != chosen and abs(delta[m]) < AMBIGUOUS_DBIC]
    andreev = {m: m == "two_gap" for m in fits}
    ambiguous = any(andreev[m] != andreev[chosen] for m in close)
    others = ", ".join(f"{m} {delta[m]:+.1f}" for m in fits if m != chosen)
    text = f"{chosen} by BIC" + (f" (others: {others})" if others else "")
    notes = []
    if ambiguous:
        rival = next(m for m in close if andreev[m] != andreev[chosen])
        text += f"; ambiguous: {rival} is within {AMBIGUOUS_DBIC:g} of it"
        notes.append(f"model choice ambiguous: {chosen} and {rival} describe the spectrum "
                     "about equally well (an Andreev channel is neither established nor "
                     "excluded)")
    return _Choice(fits[chosen], delta, ambiguous, text, tuple(notes))


def _systematic(choice: _Choice, fits: dict[str, FitResult], key: str, value: float,
                error: float, sigma: float) -> float:
    """The error of a value widened by its spread over the other models that fit the spectrum
    as well as the chosen one, parameter count aside (chi^2 not worse by AMBIGUOUS_DBIC noise
    variances): where the data cannot tell the models apart, neither can the value."""
    keys = {"dynes": "E_g_eV", "btk": "delta_eV", "two_gap": "E_g_eV"}
    chosen = choice.fit.chi2_sum / sigma**2
    spread = 0.0
    for m, f in fits.items():
        if m == choice.fit.model or f.chi2_sum / sigma**2 - chosen >= AMBIGUOUS_DBIC:
            continue
        other = f.params.get(keys[m] if key == "E_g" else key)
        if other is not None:
            spread = max(spread, abs(other - value))
    return float(np.hypot(error, spread))


def _barrier_error(fit: FitResult) -> float | None:
    """The 1-sigma error of Z. At high barriers the spectrum depends on Z through 1/Z^2 and
    the linear error bar is too short on the high side: the error is propagated through
    u = 1/Z^2 and the longer side of the interval (Z(u - du), Z(u + du)) is reported."""
    Z, err = fit.params.get("Z"), fit.errors.get("Z")
    if Z is None or err is None or not np.isfinite(err) or Z <= 1.0:
        return err
    u, du = Z**-2, 2.0 * err / Z**3
    high = (u - du) ** -0.5 if u > du else np.inf
    low = (u + du) ** -0.5
    return float(max(err, high - Z, Z - low))


def _regime(model: str, Z: float | None, G_N_S: float | None) -> str:
    """Tunnelling for a Dynes spectrum and when G_N < 0.1 G0. Otherwise contact whenever
    a distinct Andreev channel is established (two-gap chosen), whatever the fitted Z (with
    many weak channels Z is high while in-gap peaks show); else by the barrier (Z > 3)."""
    if model == "two_gap" and G_N_S is not None:
        return classify_regime(G_N_S=G_N_S)
    if model == "dynes":
        return "tunnelling"
    return classify_regime(G_N_S=G_N_S, Z=Z)


def analyze_spectrum(
    spec: SpectrumInput, *, T_K: float | None = None, Vmod_rms_V: float | None = None,
    prior: list[dict[str, float]] | None = None,
) -> Analysis:
    """Analyse one spectrum. ``T_K`` (K) and ``Vmod_rms_V`` (V rms) override what the input
    recorded; without either, 65 mK and no modulation are assumed (and noted). ``prior``:
    parameter sets (e.g. the previous temperature's two-gap solution) used as extra starts.

    The fits' small linear algebra (SVDs of Jacobians of a few thousand x a few) runs on one
    BLAS thread, so the time grows linearly with the points (see :mod:`stm_andreev.blas`)."""
    with single_threaded():
        return _analyze(spec, T_K, Vmod_rms_V, prior)


def _analyze(spec: SpectrumInput, T_K: float | None, Vmod_rms_V: float | None,
             prior: list[dict[str, float]] | None) -> Analysis:
    notes: list[str] = list(spec.meta.get("input_notes", ()))
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
    where = f"{spec.source}[{spec.index}]"
    try:
        g, G_N = normalize(V, G)
    except AnalysisInputError as exc:
        raise AnalysisInputError(f"{where}: {exc}") from None
    G_S = spec.G_S
    G_N_S = G_N * (G0_S if spec.G_unit == "G0" else 1.0) if G_S is not None else None
    noise = estimate_spectrum_noise(V, g)

    # The derivative's window spans at least half the smearing: no feature is narrower.
    width = smearing_width_V(T, vmod)
    peaks0 = find_andreev_peaks(V, g, source=spec.source, smearing_fwhm_V=width)
    try:
        fits, fit_notes = _candidates(V, g, smearing, peaks0, list(prior or []),
                                      noise.sigma)
    except FitError as exc:
        raise FitError(f"{where}: {exc}") from None
    notes += fit_notes
    choice = _choose(fits, noise.sigma, V.size)
    notes += choice.notes
    fit = choice.fit
    regime = _regime(fit.model, fit.params.get("Z"), G_N_S)
    key = {"dynes": "E_g_eV", "btk": "delta_eV", "two_gap": "E_g_eV"}[fit.model]
    E_g, E_g_err = fit.params[key], fit.errors[key]

    E_g_err = _systematic(choice, fits, "E_g", E_g, E_g_err, noise.sigma)
    gamma_err = _systematic(choice, fits, "gamma_eV", fit.params["gamma_eV"],
                            fit.errors["gamma_eV"], noise.sigma)

    peaks = find_andreev_peaks(V, g, E_g_eV=E_g, source=spec.source, smearing_fwhm_V=width)
    delta_c = delta_c_err = None
    dc_at_bound = "delta_c_eV" in fit.at_bound
    andreev = fit.model == "two_gap" and not dc_at_bound
    if peaks.found and andreev:
        delta_c, delta_c_err = _delta_c(V, fit, peaks, E_g, width)
    elif peaks.found:
        # A -d2G/dV2 pair the evidence does not back (noise, or structure of the DOS):
        # a tunnel junction has no Andreev reflection to report.
        two = fits.get("two_gap")
        why = ("the two-gap model is not supported by the evidence "
               f"(BIC {choice.delta_bic['two_gap']:+.1f} against {fit.model})" if two
               else "no two-gap fit with a distinct Andreev channel")
        notes.append(f"a -d2G/dV2 pair at {peaks.delta_c_eV / UEV:.0f} ueV is not reported "
                     f"as Andreev peaks: {why}")
    step = peaks.derivative.step_V
    if not peaks.found and andreev and step > COARSE_STEP_V:
        notes.append(f"bias step {step * 1e6:.0f} uV is too coarse to resolve Andreev peaks "
                     "by -d2G/dV2 (a 5-point window spans "
                     f"{4 * step * 1e6:.0f} uV); see delta_c_fit_eV")
    chi2_noise = fit.chi2_red / noise.sigma**2
    # Delta_c at its lower bound means "no Andreev channel" (said in a note), not a failure.
    # Without an Andreev channel its broadening is meaningless, bound or not.
    physical_at_bound = tuple(n for n in fit.at_bound if n not in ("scale", "delta_c_eV")
                              and not (dc_at_bound and n == "gamma_c_eV"))
    if "gamma_c_eV" in physical_at_bound:
        notes.append("Andreev-channel broadening Gamma_c at a bound of its range: its value "
                     "is not determined (Delta_c and E_g are)")
    extra = ("model choice ambiguous",) if choice.ambiguous else ()
    quality, reason = grade(chi2_noise, tuple(n for n in physical_at_bound
                                              if n != "gamma_c_eV"), extra)
    scale = fit.params["scale"]
    result = SpectrumResult(
        source=spec.source,
        index=spec.index,
        regime=regime,
        model=fit.model,
        andreev_peaks=bool(peaks.found and andreev),
        delta_c_eV=delta_c,
        delta_c_err_eV=delta_c_err,
        delta_c_peak_eV=peaks.delta_c_eV if andreev else None,
        delta_c_fit_eV=None if dc_at_bound else fit.params.get("delta_c_eV"),
        delta_c_fit_err_eV=None if dc_at_bound else fit.errors.get("delta_c_eV"),
        E_g_eV=E_g,
        E_g_err_eV=E_g_err,
        gamma_eV=fit.params["gamma_eV"],
        gamma_err_eV=gamma_err,
        gamma_c_eV=None if dc_at_bound else fit.params.get("gamma_c_eV"),
        gamma_c_err_eV=None if dc_at_bound else fit.errors.get("gamma_c_eV"),
        Z=fit.params.get("Z"),
        Z_err=_barrier_error(fit),
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
        channel=str(spec.meta.get("channel", "")),
        quality=quality,
        quality_reason=reason,
        chi2_noise=float(chi2_noise),
        noise_G_N=noise.sigma,
        noise_method=noise.method,
        at_bound=physical_at_bound,
        model_choice=choice.text,
        ambiguous=choice.ambiguous,
        delta_bic=choice.delta_bic,
    )
    return Analysis(spec, result, V, g, G_N, fit, peaks, fits)


def reseed_series(analyses: list[Analysis]) -> list[Analysis]:
    """A temperature series (one contact, sorted by T) with each spectrum whose fit is not
    good analysed again from the previous temperature's two-gap solution as an extra start
    (near Tc the Andreev structure fades, and the neighbour's solution lies close to the
    right minimum). The new analysis replaces the old one only when it is better graded or
    fits better. Returns the series in the order given."""
    order = sorted(range(len(analyses)), key=lambda i: analyses[i].result.T_K)
    out = list(analyses)
    previous: Analysis | None = None
    for i in order:
        a = out[i]
        prior = previous.candidates.get("two_gap") if previous is not None else None
        if prior is not None and a.result.quality != "good":
            again = analyze_spectrum(a.spectrum, T_K=a.result.T_K,
                                     Vmod_rms_V=a.result.Vmod_rms_V, prior=[prior.params])
            rank = {"good": 0, "poor": 1, "failed": 2}
            better = (rank[again.result.quality], again.result.chi2_noise or np.inf) < (
                rank[a.result.quality], a.result.chi2_noise or np.inf)
            if better:
                notes = (*again.result.notes, "refitted from the previous temperature's "
                         "two-gap solution")
                a = replace(again, result=replace(again.result, notes=notes))
                out[i] = a
        previous = a
    return out
