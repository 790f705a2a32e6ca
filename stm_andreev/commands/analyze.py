"""``stm-andreev analyze FILE...``: Delta_c, E_g, Gamma, Z and the regime of every spectrum.

Files: run files (HDF5), Nanonis bias-spectroscopy .dat files and grid (.3ds) files (every
measured pixel analysed as a spectrum, after a summary of the grid), plain-text spectra, and R(T)
(a cooldown file, or text with a temperature and a resistance column): Tc by the paper's
straight-line extrapolation of the resistive drop, also used for the report's T/Tc. With
``--json`` one JSON object per spectrum is printed per line (schema in docs/analysis.md);
otherwise a table. ``--report DIR`` also writes the paper's figures and a Markdown report.
Grids (a grid run's ``/entry/grid``, a Nanonis .3ds) are analysed pixel by pixel on Dask
(``--scheduler``), their results stored (docs/maps.md) and, with ``--report``, drawn.
Exit status 0 when every spectrum was analysed, 1 when a file could not be read or a spectrum
could not be fitted (the others are still analysed), 2 for bad options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the analysis stack pulls in scipy and matplotlib: imported by run() only
    from stm_andreev.analysis.pipeline import Analysis
    from stm_andreev.analysis.resistance import ResistanceCurve

# Choices of stm_andreev.analysis (inputs.G_UNITS, io_text.LOCKIN_SIGNS / LOCKIN_USES), spelt
# out so that `--help` does not import the analysis stack (a test checks they agree).
G_UNIT_CHOICES = ("S", "G0", "GN", "arb")
SIGN_CHOICES = ("auto", "+", "-")
USE_CHOICES = ("X", "R")

HELP = "analyse spectra (run files, text, Nanonis .dat/.3ds): Delta_c, E_g, Gamma, Z; figures"


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="spectra to analyse, and R(T) files (cooldown .h5, text T/R) "
                             "for Tc")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per spectrum per line")
    parser.add_argument("--report", metavar="DIR", help="write figures and report.md here")
    parser.add_argument("--T-K", dest="T_K", type=_positive, default=None,
                        help="temperature in K (overrides the file; default: recorded, else "
                             "0.065)")
    parser.add_argument("--vmod-rms-V", dest="vmod_rms_V", type=_non_negative, default=None,
                        help="lock-in modulation in V rms (overrides the file; default: "
                             "recorded, else 0)")
    parser.add_argument("--bias-col", default=None,
                        help="bias column of text/.dat files, by name or 0-based index")
    parser.add_argument("--g-col", default=None,
                        help="conductance column of text/.dat files, by name or index")
    parser.add_argument("--g-unit", default="auto", choices=("auto", *G_UNIT_CHOICES),
                        help="unit of the conductance column: S, G0 (2e^2/h), GN (already "
                             "normalised), arb (lock-in output); auto guesses")
    parser.add_argument("--sign", default="auto", choices=SIGN_CHOICES,
                        help="lock-in X of text/.dat files: + as recorded, - negated (phase "
                             "off by 180 degrees), auto negated if its high-bias values are "
                             "negative (default)")
    parser.add_argument("--use", default="X", choices=USE_CHOICES,
                        help="lock-in output of .dat files: X (in-phase, default) or R "
                             "(magnitude, phase-independent but adds noise)")
    parser.add_argument("--Tc-K", dest="Tc_K", type=_positive, default=None,
                        help="critical temperature for T/Tc in the report")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="where the per-pixel analysis of grids runs: a dask.distributed "
                             "scheduler address (tcp://HOST:8786), or processes (default: "
                             "this machine's cores), threads, sync")


def _table_line(a: Analysis) -> str:
    r = a.result
    Z = "-" if r.Z is None else r.flagged(r.Z, None, 1, 2)
    gn = "-" if r.G_N_G0 is None else f"{r.G_N_G0:.3g}"
    grade = r.quality if r.quality == "good" else f"{r.quality.upper()}: {r.quality_reason}"
    return (f"{r.source}[{r.index}]  {r.regime:<10} {r.model:<7} G_N/G0={gn:<7} "
            f"Delta_c={r.flagged(r.delta_c_eV, r.delta_c_err_eV):<12} "
            f"E_g={r.flagged(r.E_g_eV, r.E_g_err_eV)} ueV  "
            f"Gamma={r.flagged(r.gamma_eV, r.gamma_err_eV)} ueV  Z={Z}  T={r.T_K:.3g} K  "
            f"chi2/noise={r.chi2_noise:.2f}  fit {grade}")


def _resistance(path: str, args: argparse.Namespace) -> ResistanceCurve | None:
    """Tc of an R(T) file (cooldown file or text T/R columns), printed; None on an error."""
    from stm_andreev.analysis.errors import AnalysisError
    from stm_andreev.analysis.resistance import describe_tc, load_resistance

    try:
        curve = load_resistance(path)
        tc = curve.tc()
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if args.json:
        print(json.dumps({"kind": "Tc", "source": path, "Tc_K": tc.Tc_K,
                          "Tc_err_K": tc.Tc_err_K, "window_K": list(tc.window_K),
                          "n_points": tc.n_points, "slope_ohm_per_K": tc.slope_ohm_per_K,
                          "R_max_ohm": tc.R_max_ohm, "warnings": list(tc.warnings)}),
              flush=True)
    else:
        print(f"{path}: {describe_tc(tc, curve.source)}", flush=True)
    return curve


def _hdf5_verdict(path: str):
    """For an HDF5 file, :func:`stm_andreev.storage.verify.verify_run_file`'s verdict (a child
    process, bounded in time); None for any other file (the loaders say what is wrong)."""
    from stm_andreev.storage.verify import HDF5_SIGNATURE, missing_verdict, verify_run_file

    try:
        with open(path, "rb") as f:
            if f.read(8) != HDF5_SIGNATURE:
                return None
    except OSError:
        # a dangling symbolic link or a loop of them is named as such; the loaders name the rest
        return missing_verdict(path) if os.path.islink(path) else None
    return verify_run_file(path)


def _refusal(path: str, verdict) -> str:
    """Why ``path`` is not analysed, naming it, with where to find its intact spectra."""
    hint = f" (`stm-andreev verify --list {path}` lists the intact spectra)" \
        if verdict.intact else ""
    return verdict.describe() + hint


def _is_grid(path: str) -> bool:
    from stm_andreev.analysis.maps_cube import is_grid_file

    return is_grid_file(path)


def _analyze_grid(path: str, args: argparse.Namespace) -> bool:
    """Analyse a grid pixel by pixel, store the results, print a summary (and draw the map
    figures with --report). False when the grid could not be analysed or a pixel could not be
    fitted (the message says which)."""
    from stm_andreev.analysis.errors import AnalysisError
    from stm_andreev.analysis.maps import QUANTITIES, analyze_map
    from stm_andreev.analysis.maps_cube import open_grid
    from stm_andreev.analysis.maps_figures import map_summary, write_map_figures
    from stm_andreev.analysis.maps_store import write_map_results
    from stm_andreev.storage.errors import StorageError

    try:
        cube = open_grid(path, g_col=args.g_col, use=args.use, sign=args.sign)
        if Path(path).suffix.lower() == ".3ds":
            from stm_andreev.analysis.nanonis_grid import describe_cube

            print(describe_cube(cube), file=sys.stderr, flush=True)
        results = analyze_map(cube, scheduler=args.scheduler, T_K=args.T_K,
                              Vmod_rms_V=args.vmod_rms_V)
        target = write_map_results(results, path)
    except (AnalysisError, StorageError, OSError) as exc:
        # most errors name the file already
        message = str(exc) if str(path) in str(exc) else f"{path}: grid not analysed: {exc}"
        print(f"error: {message}", file=sys.stderr)
        return False
    summary = map_summary(results)
    not_fitted = [str(r) for r in results["reason"].values.ravel()
                  if str(r).startswith("not analysed")]
    for reason in not_fitted[:5]:
        print(f"error: {reason}", file=sys.stderr)
    if len(not_fitted) > 5:
        print(f"error: ... and {len(not_fitted) - 5} more pixels not analysed", file=sys.stderr)
    if args.json:
        print(json.dumps({"kind": "map", "source": str(path), "results_file": str(target),
                          "scheduler": results.attrs.get("scheduler"), **summary}), flush=True)
    else:
        ny, nx = results.sizes["y"], results.sizes["x"]
        print(f"{path}: {ny} x {nx} grid on {results.attrs.get('scheduler')}; results in "
              f"{target}", flush=True)
        units = {"E_g": (1e6, "µeV"), "Delta_c": (1e6, "µeV"), "Gamma": (1e6, "µeV"),
                 "Z": (1.0, ""), "G_N": (1e6, "µS")}
        for q in QUANTITIES:
            s = summary[q]
            f, unit = units[q]
            value = ("no pixel graded good" if s["median_good"] is None else
                     f"median {s['median_good'] * f:.4g} {unit}, spread "
                     f"{s['spread_good'] * f:.2g} {unit} over the good pixels")
            print(f"  {q:8s} {value}; good {s['good']}, poor {s['poor']}, failed "
                  f"{s['failed']}, n/a {s['not_applicable']}", flush=True)
    if args.report:
        written = write_map_figures(results, args.report, prefix=f"map_{Path(path).stem}")
        print(f"map figures: {', '.join(p.name for p in written)} in {args.report}",
              file=sys.stderr)
    return not not_fitted


def run(args: argparse.Namespace) -> int:
    load = dict(bias_col=args.bias_col, g_col=args.g_col, g_unit=args.g_unit, sign=args.sign,
                use=args.use)
    analyses: list[Analysis] = []
    rt: ResistanceCurve | None = None
    failed = 0
    for path in args.files:
        # An HDF5 file is checked first, in a child process in bounded time, before anything
        # opens it here or the analysis stack (scipy, xarray, matplotlib: seconds on a busy
        # machine) is imported: a damaged file is refused at the cost of that check alone.
        verdict = _hdf5_verdict(path)
        if verdict is not None and verdict.state not in ("intact", "not a run file"):
            print(f"error: {_refusal(path, verdict)}", file=sys.stderr)
            failed += 1
            continue
        from stm_andreev.analysis.errors import AnalysisError
        from stm_andreev.analysis.inputs import flatness_note
        from stm_andreev.analysis.report import analyze_items
        from stm_andreev.analysis.resistance import is_resistance_file

        if is_resistance_file(path):
            curve = _resistance(path, args)
            failed += curve is None
            rt = rt or curve
            continue
        if _is_grid(path):
            failed += not _analyze_grid(path, args)
            from stm_andreev.analysis.sources import has_spectra_besides_its_grid

            if not has_spectra_besides_its_grid(path):
                continue
            # a grid run file's spectra that are not pixels (other steps) follow below
        errors: list[str] = []
        if verdict is not None and not verdict.ok:  # HDF5 of another program
            print(f"error: {_refusal(path, verdict)}", file=sys.stderr)
            failed += 1
            continue
        try:
            found = analyze_items([path], T_K=args.T_K, Vmod_rms_V=args.vmod_rms_V,
                                  errors=errors, **load)
        except AnalysisError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        for message in errors:
            print(f"error: {message}", file=sys.stderr)
        failed += bool(errors)
        for a in found:
            if a.result.channel and not args.json:
                print(f"{a.result.source}[{a.result.index}]: conductance from column "
                      f"{a.result.channel!r}", file=sys.stderr)
            note = flatness_note(a.spectrum.bias_V, a.spectrum.G)
            if note:
                print(f"warning: {a.result.source}[{a.result.index}]: {note}", file=sys.stderr)
            if args.json:
                print(json.dumps(a.result.to_json_dict()), flush=True)
            else:
                print(_table_line(a), flush=True)
        analyses.extend(found)
    if args.report and analyses:
        from stm_andreev.analysis.report import write_report

        report = write_report(analyses, args.report, Tc_K=args.Tc_K, R_T=rt)
        print(f"report: {report}", file=sys.stderr)
    return 1 if failed else 0
