"""Analyse a set of spectra and write the paper's figures and a Markdown report.

Spectra are sorted into the paper's views: the base-temperature set (Fig. 1: versus setpoint
conductance), the largest group taken at one setpoint over several temperatures (Fig. 2), all
spectra with Andreev peaks (Fig. 3), the lowest-conductance tunnelling spectrum (Fig. S2) and
the contact spectra fitted by plain BTK (Fig. S5).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .errors import AnalysisInputError, FitError
from .figures import (
    fig1_setpoint_series,
    fig2a_temperature_series,
    fig2b_d2G_map,
    fig2c_delta_c_vs_T,
    fig3_delta_c_vs_E_g,
    fig4_resistance_and_gaps,
    figS1_resistance,
    figS2_dynes_fit,
    figS3_setpoint_d2G,
    figS4_tunnelling_map,
    figS5_btk_fits,
    save,
)
from .inputs import SpectrumInput
from .parallel import map_items
from .pipeline import Analysis, analyze_spectrum, reseed_series
from .positions import position_points
from .resistance import ResistanceCurve, cooldown_of_run, describe_tc, load_resistance
from .series import TcResult, TemperatureSeries, temperature_series
from .sources import load_spectra

log = logging.getLogger(__name__)

POSITION_TOLERANCE_M = 1e-10  # tip positions closer than this are one position
BASE_T_FACTOR = 1.2  # spectra within 20 % of the lowest temperature count as "base"
REPORT_NAME = "report.md"
SUMMARY_NAME = "summary.json"  # the run command prints it after a run


def analyze_items(
    items: Iterable[str | Path | SpectrumInput | Analysis], *, T_K: float | None = None,
    Vmod_rms_V: float | None = None, errors: list[str] | None = None,
    workers: int | None = None, **load_kwargs,
) -> list[Analysis]:
    """Analyse run files / text files (paths), SpectrumInputs, or pass Analyses through.

    A file that cannot be read raises AnalysisInputError. A single spectrum whose fits fail
    (FitError) is skipped so the rest of a run is still analysed; the message (naming source
    and index) is appended to ``errors`` if given, else logged as a warning. ``workers``:
    processes analysing spectra side by side (None: as many as is safe and pays, see
    :mod:`.parallel`; 1: this process only); the results are the same either way.
    """
    slots: list[SpectrumInput | Analysis] = []  # every file is read before any fit starts
    for item in items:
        if isinstance(item, SpectrumInput | Analysis):
            slots.append(item)
        else:
            slots.extend(load_spectra(item, **load_kwargs))
    specs = [s for s in slots if isinstance(s, SpectrumInput)]
    analyse = functools.partial(analyze_spectrum, T_K=T_K, Vmod_rms_V=Vmod_rms_V)
    done = iter(map_items(analyse, specs, workers=workers, catch=(FitError,)))
    out: list[Analysis] = []
    for slot in slots:
        if isinstance(slot, Analysis):
            out.append(slot)
            continue
        result = next(done)
        if isinstance(result, FitError):
            message = f"{slot.source}[{slot.index}]: not analysed: {result}"
            if errors is None:
                log.warning("%s", message)
            else:
                errors.append(message)
        else:
            # A worker process sends back a copy of the input: keep the caller's object.
            out.append(result if result.spectrum is slot else replace(result, spectrum=slot))
    return out


def _setpoint_key(a: Analysis) -> float | None:
    value = a.result.setpoint_G_S or a.result.G_N_S
    return float(f"{value:.2g}") if value else None


def _contact_key(a: Analysis) -> tuple:
    """One sample at one tip position of one file: spectra of different samples (InO-1..4)
    or positions never share a figure."""
    sample = str(a.spectrum.meta.get("run", {}).get("sample", ""))
    x, y = a.result.tip_x_m, a.result.tip_y_m
    pos = (None if x is None or y is None or not (np.isfinite(x) and np.isfinite(y))
           else (round(x / POSITION_TOLERANCE_M), round(y / POSITION_TOLERANCE_M)))
    return (a.result.source, sample, pos)


def base_temperature_set(analyses: Sequence[Analysis]) -> list[Analysis]:
    """The base-temperature spectra (within 20 % of the lowest temperature) of one sample at
    one position: the largest such group (Fig. 1 is one setpoint series)."""
    if not analyses:
        return []
    T0 = min(a.result.T_K for a in analyses)
    groups: dict[tuple, list[Analysis]] = {}
    for a in analyses:
        if a.result.T_K <= BASE_T_FACTOR * T0:
            groups.setdefault(_contact_key(a), []).append(a)
    return max(groups.values(), key=len)


def temperature_group(analyses: Sequence[Analysis]) -> list[Analysis]:
    """The largest set of spectra of one sample, position and setpoint spanning at least three
    temperatures."""
    groups: dict[tuple, list[Analysis]] = {}
    for a in analyses:
        groups.setdefault((*_contact_key(a), _setpoint_key(a)), []).append(a)
    best: list[Analysis] = []
    for group in groups.values():
        if len({round(a.result.T_K, 4) for a in group}) >= 3 and len(group) > len(best):
            best = group
    return sorted(best, key=lambda a: a.result.T_K)


def tunnelling_series(analyses: Sequence[Analysis]) -> list[Analysis]:
    """The largest set of tunnelling spectra of one sample and position over >= 3
    temperatures (Fig. S4)."""
    groups: dict[tuple, list[Analysis]] = {}
    for a in analyses:
        if a.result.regime == "tunnelling":
            groups.setdefault(_contact_key(a), []).append(a)
    best = max(groups.values(), key=len, default=[])
    return best if len({round(a.result.T_K, 4) for a in best}) >= 3 else []


def _tc(analyses: Sequence[Analysis], Tc_K: float | None,
        R_T) -> tuple[float | None, str, TcResult | None, ResistanceCurve | None]:
    """(Tc, where it came from, the R(T) fit if one was made). In order: the given value,
    the given R(T) (arrays or a ResistanceCurve), the cooldown file written with a run
    analysed here, the run's metadata, the sample preset's nominal value."""
    if Tc_K:
        return float(Tc_K), "given", None, None
    curve = None
    if isinstance(R_T, ResistanceCurve):
        curve = R_T
    elif R_T is not None:
        curve = ResistanceCurve(np.asarray(R_T[0], float), np.asarray(R_T[1], float),
                                "the R(T) given")
    else:
        for source in dict.fromkeys(a.result.source for a in analyses):
            cooldown = cooldown_of_run(source)
            if cooldown is not None:
                curve = load_resistance(cooldown)
                break
    if curve is not None:
        tc = curve.tc()
        return tc.Tc_K, describe_tc(tc, curve.source), tc, curve
    for a in analyses:
        run = a.spectrum.meta.get("run", {})
        if run.get("Tc_K"):
            return float(run["Tc_K"]), "run metadata", None, None
        sample = run.get("sample")
        if sample:
            from stm_andreev.physics import PRESETS

            if sample in PRESETS:
                return (PRESETS[sample].Tc_K, f"the {sample} preset's nominal value (no R(T) "
                        "measured with this run)", None, None)
    return None, "unknown", None, None


@dataclass(frozen=True)
class SeriesView:
    """What the report makes of a set of analyses: every analysis (the temperature group's
    re-seeded where that helped), the temperature group, its series, and Tc with its origin."""

    analyses: list[Analysis]
    tgroup: list[Analysis]
    series: TemperatureSeries | None
    Tc_K: float | None
    Tc_source: str
    tc_fit: TcResult | None
    curve: ResistanceCurve | None


def series_view(analyses: Sequence[Analysis], *, Tc_K: float | None = None,
                R_T=None) -> SeriesView:
    """The report's Tc and temperature series: the one code path for the report and for any
    tool that quotes the report's numbers (tools/paper_targets.py)."""
    Tc, tc_source, tc_fit, curve = _tc(analyses, Tc_K, R_T)
    out = list(analyses)
    tgroup = temperature_group(out)
    if tgroup:
        # Spectra of the series not fitted well get a second try from the previous
        # temperature's two-gap solution.
        reseeded = reseed_series(tgroup)
        swap = {id(a): b for a, b in zip(tgroup, reseeded, strict=True)}
        out = [swap.get(id(a), a) for a in out]
        tgroup = reseeded
    series = temperature_series([a.result for a in tgroup], Tc_K=Tc) if tgroup else None
    return SeriesView(out, tgroup, series, Tc, tc_source, tc_fit, curve)


def _fmt(x: float | None, scale: float = 1e6, digits: int = 1) -> str:
    return "–" if x is None else f"{x * scale:.{digits}f}"


def _maps_only_report(out: Path, map_lines: list[str], maps: dict) -> Path:
    """report.md and summary.json of grids alone."""
    report = out / REPORT_NAME
    report.write_text("\n".join(["# Spectroscopy report", *map_lines]) + "\n",
                      encoding="utf-8")
    (out / SUMMARY_NAME).write_text(json.dumps({"n_spectra": 0, "maps": maps}, indent=1)
                                    + "\n", encoding="utf-8")
    log.info("report written to %s (%d maps)", report, len(maps))
    return report


def write_report(
    run_paths_or_spectra: Iterable[str | Path | SpectrumInput | Analysis],
    out_dir: str | Path,
    *,
    T_K: float | None = None,
    Vmod_rms_V: float | None = None,
    Tc_K: float | None = None,
    R_T: tuple[ArrayLike, ArrayLike] | ResistanceCurve | None = None,
    workers: int | None = None,
    **load_kwargs,
) -> Path:
    """Analyse the inputs and write PNG figures, ``report.md`` and ``summary.json`` (counts,
    Tc, mean Delta_c, where the peaks vanish, figure names) into ``out_dir``.

    Inputs: run-file or text paths, SpectrumInput objects, or already computed Analyses.
    ``T_K``/``Vmod_rms_V`` override recorded values; ``Tc_K``, or ``R_T`` ((T_K, R_ohm)
    arrays or a ResistanceCurve), or else the cooldown file written with the run gives T/Tc
    for Fig. 2; only without any of them the sample preset's nominal Tc is used (and said). ``workers``: see
    :func:`analyze_items`. Returns the path of the Markdown report. Raises AnalysisInputError
    if there is nothing to analyse.
    """
    from .maps_report import is_grid_input, report_grids
    from .sources import has_spectra_besides_its_grid

    inputs = list(run_paths_or_spectra)
    # Grids are analysed as maps (their pixels are not single spectra of the report).
    grids = [item for item in inputs if is_grid_input(item)]
    # A grid run file's other steps (spectra that are not pixels) stay single spectra: its
    # loader leaves the pixels out (sources.load_run_file).
    inputs = [item for item in inputs
              if not is_grid_input(item) or has_spectra_besides_its_grid(item)]
    analyses = analyze_items(inputs, T_K=T_K, Vmod_rms_V=Vmod_rms_V, workers=workers,
                             **load_kwargs) if inputs else []
    if not analyses and not grids:
        raise AnalysisInputError("write_report: no spectra to analyse")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    map_lines, maps = report_grids(grids, out, T_K=T_K, Vmod_rms_V=Vmod_rms_V)
    if not analyses:
        return _maps_only_report(out, map_lines, maps)
    view = series_view(analyses, Tc_K=Tc_K, R_T=R_T)
    Tc, tc_source, tc_fit, curve = view.Tc_K, view.Tc_source, view.tc_fit, view.curve
    base = base_temperature_set(analyses)
    analyses, tgroup, series = view.analyses, view.tgroup, view.series
    tunnelling = sorted((a for a in base or analyses if a.result.regime == "tunnelling"
                         and a.result.quality == "good"),
                        key=lambda a: a.result.G_N_S or 0.0)
    figures = {
        "fig1_setpoint_series.png": fig1_setpoint_series(base),
        "fig2a_temperature_series.png": fig2a_temperature_series(tgroup, Tc),
        "fig2b_d2G_map.png": fig2b_d2G_map(tgroup, Tc),
        "fig2c_delta_c_vs_T.png": fig2c_delta_c_vs_T(series) if series else None,
        "fig3_delta_c_vs_E_g.png": fig3_delta_c_vs_E_g(analyses),
        "figS2_dynes_fit.png": figS2_dynes_fit(tunnelling[0]) if tunnelling else None,
        "figS5_btk_fits.png": figS5_btk_fits(analyses),
        "figS3_setpoint_d2G.png": figS3_setpoint_d2G(base),
        # In K: the report's one Tc may be another sample's.
        "figS4_tunnelling_map.png": figS4_tunnelling_map(tunnelling_series(analyses)),
        "figS1_resistance.png": (figS1_resistance(curve.T_K, curve.R_ohm, tc_fit)
                                 if curve is not None and tc_fit is not None else None),
        "fig4_resistance_and_gaps.png": (
            fig4_resistance_and_gaps(curve.T_K, curve.R_ohm, tc_fit.Tc_K, analyses)
            if curve is not None and tc_fit is not None else None),
    }
    written = {name: save(fig, out / name) for name, fig in figures.items() if fig is not None}
    lines = ["# Spectroscopy report", "",
             f"{len(analyses)} spectra from {len({a.result.source for a in analyses})} "
             f"source(s). Tc: {'unknown' if Tc is None else f'{Tc:.3f} K'} ({tc_source}).", ""]
    # Only good fits enter the summary numbers; poor and failed ones are counted and listed.
    with_peaks = [a.result.delta_c_eV for a in analyses
                  if a.result.delta_c_eV is not None and a.result.quality == "good"]
    not_good = [a.result for a in analyses if a.result.quality != "good"]
    summary: dict[str, object] = {
        "quality": {k: sum(a.result.quality == k for a in analyses)
                    for k in ("good", "poor", "failed")},
        "not_good": [{"source": r.source, "index": r.index, "quality": r.quality,
                      "reason": r.quality_reason} for r in not_good],
        "n_spectra": len(analyses),
        "regimes": {k: sum(a.result.regime == k for a in analyses)
                    for k in ("tunnelling", "contact")},
        "Tc_K": Tc, "Tc_source": tc_source,
        "Tc_err_K": tc_fit.Tc_err_K if tc_fit else None,
        "Tc_window_K": list(tc_fit.window_K) if tc_fit else None,
        "Tc_warnings": list(tc_fit.warnings) if tc_fit else [],
        "n_with_andreev_peaks": len(with_peaks),
        "delta_c_mean_eV": float(np.mean(with_peaks)) if with_peaks else None,
        "delta_c_spread_eV": float(np.std(with_peaks)) if with_peaks else None,
        "T_vanish_K": None, "T_vanish_over_Tc": None,
    }
    if not_good:
        lines.append(f"{len(not_good)} of {len(analyses)} fits are not good (graded poor or "
                     "failed; reasons in the table): their numbers are marked there and left "
                     "out of the figures and of the means below.")
        lines.append("")
    if with_peaks:
        lines.append(f"Andreev peaks in {len(with_peaks)} well-fitted spectra: Δc = "
                     f"{np.mean(with_peaks) * 1e6:.1f} ± {np.std(with_peaks) * 1e6:.1f} µeV "
                     f"(mean ± spread); Δc/k_B = {np.mean(with_peaks) / 8.617333262e-5:.2f} K.")
    else:
        lines.append("No Andreev peaks in any spectrum.")
    if series is not None:
        summary.update(T_vanish_K=series.T_vanish_K, T_vanish_over_Tc=series.T_vanish_over_Tc,
                       T_fit_vanish_K=series.T_fit_vanish_K,
                       T_fit_vanish_over_Tc=series.T_fit_vanish_over_Tc)
        if series.T_vanish_K is not None:
            ratio = (f" = {series.T_vanish_over_Tc:.2f} Tc" if series.T_vanish_over_Tc
                     else "")
            lines.append(f"Temperature series ({len(tgroup)} spectra): the resolved ±Δc peak "
                         f"pair is last seen at {series.T_last_peaks_K:.3g} K and gone at "
                         f"{series.T_first_without_K:.3g} K (≈ {series.T_vanish_K:.3g} K"
                         f"{ratio}; thermal smearing merges it into a zero-bias maximum).")
        if series.T_fit_vanish_K is not None:
            ratio = (f" = {series.T_fit_vanish_over_Tc:.2f} Tc"
                     if series.T_fit_vanish_over_Tc else "")
            lines.append(f"The two-gap fit's Δc(T) closes at ≈ {series.T_fit_vanish_K:.3g} K"
                         f"{ratio}: the Andreev signal vanishes there.")
        else:
            lines.append(f"Temperature series ({len(tgroup)} spectra): the Andreev peaks do "
                         "not vanish within the series (or never appear).")
    points = position_points(analyses)
    summary["fig3_points"] = [asdict(p) for p in points]
    if points:
        from_tunnelling = sum(p.E_g_from == "tunnelling" for p in points)
        lines.append(f"Fig. 3: {len(points)} position(s) with Andreev peaks; E_g from tunnelling "
                     f"spectra at {from_tunnelling} of them, from two-gap fits elsewhere. "
                     "Error bars (1 sigma) combine each fit's covariance (scaled by its "
                     "residual), the spread over the models the data cannot tell apart, for "
                     "Δc the disagreement of the two-gap fit with the -d²G/dV² pair, and the "
                     "scatter of repeated spectra at a position; only fits graded good enter.")
    summary["figures"] = sorted(written)
    if maps:
        summary["maps"] = maps
        lines += map_lines
    lines += ["", "## Figures", ""]
    lines += [f"![{name}]({name})" for name in written] or ["(none: too few spectra)"]
    lines += ["", "## Spectra", "",
              "Values of a fit not graded good carry its grade; χ²/σ² is the fit's mean squared "
              "residual over the spectrum's own noise variance.", "",
              "| source | # | T (K) | regime | model | G_N (2e²/h) | Δc (µeV) | E_g (µeV) "
              "| Γ (µeV) | Z | χ²/σ² | fit quality |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in analyses:
        r = a.result
        Z = "–" if r.Z is None else r.flagged(r.Z, None, 1, 2)
        reason = r.quality if r.quality == "good" else f"{r.quality}: {r.quality_reason}"
        if r.ambiguous:
            reason += " (model choice ambiguous)" if "ambiguous" not in reason else ""
        lines.append(
            f"| {Path(r.source).name} | {r.index} | {r.T_K:.3g} | {r.regime} | {r.model} | "
            f"{_fmt(r.G_N_G0, 1, 3)} | {r.flagged(r.delta_c_eV, r.delta_c_err_eV)} | "
            f"{r.flagged(r.E_g_eV, r.E_g_err_eV)} | {r.flagged(r.gamma_eV, r.gamma_err_eV)} | "
            f"{Z} | {_fmt(r.chi2_noise, 1, 2)} | {reason} |")
    report = out / REPORT_NAME
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / SUMMARY_NAME).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    log.info("report written to %s (%d figures)", report, len(written))
    return report
