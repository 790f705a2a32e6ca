"""Speed and accuracy of the analysis on many spectra, printed as ratios measured in one run.

    python bench/bench_analysis.py [--n 10000] [--naive 5] [--single 50] [--no-run-file]

1. Generates N tunnelling spectra (E_g 200-650 ueV, Gamma 20-60 ueV, scale 0.95-1.10, noise
   1 % of G_N) and N two-gap contact spectra (Delta_c 120-180 ueV, Z 0.5-2, noise 0.5 %) with
   the batched physics model at 65 mK and 15 uV rms, and (unless --no-run-file) stores the
   tunnelling set in a run file through the storage writer and reads it back.
2. Delta_c extraction (-d2G/dV2 pair search) over the N contact spectra: spectra per second,
   fraction found, error of the raw pair against the true Delta_c.
3. Dynes fits of the N tunnelling spectra with the vectorised batch fitter (fit_dynes_batch),
   and of a subset with the per-spectrum least_squares fitter (fit_spectrum): spectra/s and
   accuracy of E_g and Gamma.
4. The naive way on a subset: scipy.optimize.curve_fit calling a per-point model (for each
   bias, thermal and lock-in smearing summed over a 2D grid of the Dynes DOS).
   Printed: speed ratio batch/naive (target >= 20x) and both accuracies.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit

from stm_andreev.analysis.fits import fit_spectrum
from stm_andreev.analysis.fits_batch import fit_dynes_batch
from stm_andreev.analysis.peaks import find_andreev_peaks
from stm_andreev.physics import G0_S, K_B_EV_PER_K, conductance, dynes_dos

UEV = 1e-6
T_K = 0.065
VMOD = 15e-6
V = np.linspace(-1.5e-3, 1.5e-3, 201)


def generate(n: int, rng: np.random.Generator, chunk: int = 500):
    """(tunnelling g, E_g, Gamma), (contact g, Delta_c, E_g) as arrays."""
    Eg = rng.uniform(200, 650, n) * UEV
    gamma = rng.uniform(20, 60, n) * UEV
    scale = rng.uniform(0.95, 1.10, n)
    tun = np.empty((n, V.size))
    con = np.empty((n, V.size))
    Dc = rng.uniform(120, 180, n) * UEV
    Egc = rng.uniform(400, 650, n) * UEV
    Z = rng.uniform(0.5, 2.0, n)
    for i in range(0, n, chunk):
        s = slice(i, i + chunk)
        tun[s] = conductance(V, Eg_eV=Eg[s, None], Dc_eV=Eg[s, None], Z=np.full((len(Eg[s]), 1), 1e3),
                             gamma_eV=gamma[s, None], T_K=T_K, Vmod_rms_V=VMOD)
        con[s] = conductance(V, Eg_eV=Egc[s, None], Dc_eV=Dc[s, None], Z=Z[s, None],
                             gamma_eV=40 * UEV, gamma_c_eV=8 * UEV, T_K=T_K, Vmod_rms_V=VMOD)
    tun = tun * scale[:, None] + 0.01 * rng.standard_normal(tun.shape)
    con = con + 0.005 * rng.standard_normal(con.shape)
    return (tun, Eg, gamma), (con, Dc, Egc)


def through_run_file(g: np.ndarray) -> np.ndarray:
    """Store spectra (as siemens at 0.005 G0) in a run file and read them back."""
    from stm_andreev.storage import RunReader, RunWriter

    G_N = 0.005 * G0_S
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        w = RunWriter.create(path, n_bias=V.size, n_planned=len(g), metadata={"bench": True},
                             station_text="", plan_text="", snapshot={})
        t0 = time.perf_counter()
        for k, row in enumerate(g):
            G = row * G_N
            w.append_spectrum(k, bias_V=V, G_S=G, X_V=G, Y_V=0 * G,
                              record={"temperature_before_K": T_K, "modulation_Vrms": VMOD})
        w.close("finished")
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        with RunReader(path) as r:
            G_S = r.spectra()["G_S"]
        t_read = time.perf_counter() - t0
    print(f"run file: wrote {len(g)} spectra in {t_write:.1f} s, read back in {t_read:.2f} s")
    return G_S / G_N


def naive_model(V_V: np.ndarray, Eg: float, gamma: float, scale: float) -> np.ndarray:
    """Per-point Dynes conductance: for each bias, sum the DOS over a grid of thermal and
    lock-in offsets (the way a first analysis script is usually written)."""
    kT = K_B_EV_PER_K * T_K
    x = np.linspace(-12 * kT, 12 * kT, 121)
    wx = 1 / (4 * kT * np.cosh(x / (2 * kT)) ** 2)
    a = np.sqrt(2) * VMOD
    v = np.linspace(-a, a, 23)[1:-1]
    wv = np.sqrt(a**2 - v**2)
    w = np.outer(wx, wv)
    w /= w.sum()
    out = np.empty(len(V_V))
    for i, bias in enumerate(V_V):
        E = bias + x[:, None] + v[None, :]
        out[i] = np.sum(w * dynes_dos(E, Eg * UEV, gamma * UEV))
    return scale * out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--naive", type=int, default=5, help="spectra for the naive loop")
    parser.add_argument("--single", type=int, default=50, help="spectra for fit_spectrum")
    parser.add_argument("--no-run-file", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    (tun, Eg, gamma), (con, Dc, Egc) = generate(args.n, rng)
    print(f"generated 2 x {args.n} spectra of {V.size} points in {time.perf_counter() - t0:.1f} s")
    if not args.no_run_file:
        tun = through_run_file(tun)

    t0 = time.perf_counter()
    found = np.zeros(args.n, dtype=bool)
    dc = np.full(args.n, np.nan)
    for i in range(args.n):
        p = find_andreev_peaks(V, con[i], E_g_eV=Egc[i])
        found[i] = p.found
        if p.found:
            dc[i] = p.delta_c_eV
    t_peaks = time.perf_counter() - t0
    err = (dc - Dc)[found] / UEV
    print(f"Delta_c extraction: {args.n / t_peaks:.0f} spectra/s; pair found in "
          f"{found.mean():.1%}; raw -d2G/dV2 pair minus true Delta_c: mean {err.mean():+.1f} "
          f"ueV, std {err.std():.1f} ueV (the pipeline's two-gap fit removes the offset)")

    t0 = time.perf_counter()
    batch = fit_dynes_batch(V, tun, T_K=T_K, Vmod_rms_V=VMOD)
    t_batch = time.perf_counter() - t0
    rate_batch = args.n / t_batch

    def accuracy(E, G, idx):
        e = np.abs(E / Eg[idx] - 1)
        gam = np.abs(G / gamma[idx] - 1)
        return (f"E_g error median {np.median(e):.2%} max {e.max():.2%}; Gamma error median "
                f"{np.median(gam):.1%} max {gam.max():.1%}")

    print(f"Dynes fit, batch (fit_dynes_batch): {rate_batch:.1f} spectra/s; converged "
          f"{batch.converged.mean():.1%}; {accuracy(batch.E_g_eV, batch.gamma_eV, slice(None))}")

    k = min(args.single, args.n)
    t0 = time.perf_counter()
    singles = [fit_spectrum("dynes", V, tun[i], T_K=T_K, Vmod_rms_V=VMOD,
                            initial={"E_g_eV": 400 * UEV}) for i in range(k)]
    rate_single = k / (time.perf_counter() - t0)
    print(f"Dynes fit, per spectrum (fit_spectrum, least_squares + batched Jacobian) on {k}: "
          f"{rate_single:.1f} spectra/s; "
          f"{accuracy(np.array([f.params['E_g_eV'] for f in singles]), np.array([f.params['gamma_eV'] for f in singles]), slice(0, k))}")

    k = min(args.naive, args.n)
    t0 = time.perf_counter()
    naive = []
    for i in range(k):
        popt, _ = curve_fit(naive_model, V, tun[i], p0=(400.0, 40.0, 1.0),
                            bounds=([20, 2, 0.3], [5000, 1000, 3]))
        naive.append(popt)
    rate_naive = k / (time.perf_counter() - t0)
    naive = np.array(naive)
    print(f"Dynes fit, naive curve_fit with a per-point model on {k}: {rate_naive:.2f} "
          f"spectra/s; {accuracy(naive[:, 0] * UEV, naive[:, 1] * UEV, slice(0, k))}")
    print(f"speed ratio batch / naive: {rate_batch / rate_naive:.0f}x (target >= 20x); "
          f"per-spectrum / naive: {rate_single / rate_naive:.0f}x")


if __name__ == "__main__":
    main()
