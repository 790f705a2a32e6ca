"""Analysis time against points per spectrum and number of spectra; prints medians side by
side in one run, asserts nothing.

    python bench/bench_analysis_scaling.py [--repeats 3] [--spectra 4 16 64]

(a) The report's per-spectrum analysis (``analyze_spectrum``: Dynes, BTK and two-gap
    multi-start fits, model choice, peaks) of a tunnelling and a contact spectrum at 301,
    1001 and 4001 points, with the fits' BLAS on one thread (as shipped) and, side by side,
    threaded as numpy leaves it (the old behaviour). Target: time linear in points (at most
    4001/301 = 13.3x from 301 to 4001 points); printed as the growth from 301 points.
(b) The batched fits (``fit_batch``: Dynes, BTK, two-gap) of N spectra at the same three
    grids: time per spectrum for each N (linear in spectra: flat per spectrum) and per point,
    and the per-spectrum ``fit_spectrum`` from the same starts for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from unittest import mock

import numpy as np

from stm_andreev.analysis import pipeline
from stm_andreev.analysis.fits import MODELS, fit_spectrum
from stm_andreev.analysis.fits_batch import fit_batch
from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.physics import G0_S, conductance

UEV = 1e-6
T_K, VMOD = 0.065, 10e-6
POINTS = (301, 1001, 4001)
TRUE = {  # (Z, Delta_c, E_g, Gamma, Gamma_c), noise in G_N
    "tunnelling": ((1e3, 400 * UEV, 400 * UEV, 30 * UEV, 30 * UEV), 0.01),
    "contact": ((0.8, 150 * UEV, 450 * UEV, 40 * UEV, 8 * UEV), 0.005),
    "BTK contact": ((0.8, 450 * UEV, 450 * UEV, 40 * UEV, 40 * UEV), 0.005),  # one gap
}
STARTS = {
    "dynes": lambda Z, Dc, Eg, gm, gc: (0.9 * Eg, 1.3 * gm, 1.0),
    "btk": lambda Z, Dc, Eg, gm, gc: (min(Z, 20.0), 0.9 * Eg, 1.3 * gm, 1.0),
    "two_gap": lambda Z, Dc, Eg, gm, gc: (1.2 * Z, 1.1 * Dc, 0.95 * Eg, 1.3 * gm, 12 * UEV,
                                           1.0),
}


def curves(kind: str, n_points: int, n_spectra: int, seed: int = 0):
    (Z, Dc, Eg, gm, gc), noise = TRUE[kind]
    V = np.linspace(-1.5e-3, 1.5e-3, n_points)
    g = conductance(V, Eg_eV=Eg, Dc_eV=Dc, Z=Z, gamma_eV=gm, gamma_c_eV=gc, T_K=T_K,
                    Vmod_rms_V=VMOD)
    rng = np.random.default_rng(seed)
    return V, g + noise * rng.standard_normal((n_spectra, n_points))


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_pipeline(repeats: int) -> None:
    print("(a) analyze_spectrum (the report's fits), median of "
          f"{repeats}; growth from 301 points (target <= {POINTS[-1] / POINTS[0]:.1f}x at "
          f"{POINTS[-1]})")
    for kind in ("tunnelling", "contact"):
        rows = {}
        for label, ctx in (("one BLAS thread (shipped)", contextlib.nullcontext()),
                           ("BLAS threaded (old)", mock.patch.object(
                               pipeline, "single_threaded", contextlib.nullcontext))):
            with ctx:
                for n in POINTS:
                    V, g = curves(kind, n, 1)
                    spec = SpectrumInput(V, g[0] * 0.05 * G0_S, "S", "bench", T_K=T_K,
                                         Vmod_rms_V=VMOD)
                    rows[label, n] = timed(lambda spec=spec: pipeline.analyze_spectrum(spec),
                                           repeats)
        for label in ("one BLAS thread (shipped)", "BLAS threaded (old)"):
            t = [rows[label, n] for n in POINTS]
            print(f"    {kind:10s} {label:26s} " + "  ".join(
                f"{n} pts {x * 1e3:6.0f} ms" for n, x in zip(POINTS, t, strict=True))
                + f"   growth {t[1] / t[0]:4.1f}x, {t[2] / t[0]:4.1f}x")


def bench_batch(repeats: int, spectra: list[int]) -> None:
    print(f"(b) fit_batch per spectrum (ms), median of {repeats}; per-spectrum fit_spectrum "
          "from the same starts for comparison")
    for model, kind in (("dynes", "tunnelling"), ("btk", "BTK contact"), ("two_gap", "contact")):
        start = np.array(STARTS[model](*TRUE[kind][0]))
        for n_points in POINTS:
            cells = []
            for n in spectra:
                V, g = curves(kind, n_points, n)
                t = timed(lambda V=V, g=g, m=model, s=start: fit_batch(
                    m, V, g, s, T_K=T_K, Vmod_rms_V=VMOD), repeats)
                cells.append(f"N={n:<4d} {t / n * 1e3:6.1f}")
            V, g = curves(kind, n_points, 4)
            initial = dict(zip(MODELS[model], start, strict=True))
            t_single = timed(lambda V=V, g=g, m=model, i=initial: [fit_spectrum(
                m, V, row, T_K=T_K, Vmod_rms_V=VMOD, initial=i) for row in g],
                repeats) / len(g)
            print(f"    {model:8s} {n_points:5d} pts  " + "  ".join(cells)
                  + f"   fit_spectrum {t_single * 1e3:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spectra", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--parts", nargs="+", default=["a", "b"], choices=["a", "b"])
    args = parser.parse_args()
    if "a" in args.parts:
        bench_pipeline(args.repeats)
    if "b" in args.parts:
        bench_batch(args.repeats, args.spectra)


if __name__ == "__main__":
    main()
