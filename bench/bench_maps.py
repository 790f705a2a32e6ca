"""Per-pixel analysis of a spectroscopic map on Dask: scaling and peak memory, printed side by
side. Asserts nothing.

    python bench/bench_maps.py [--size 64] [--n-bias 401] [--naive-pixels N]
                               [--mem-size 128] [--mem-rows R] [--skip-scaling] [--skip-memory]
    python bench/bench_maps.py --quick          # 12 x 12 scaling, 32 x 32 memory

Scaling: a synthetic InO-2-like map (the lab's gap map, E_g 200-650 ueV, Delta_c ~150 ueV,
two-gap contact spectra, 0.5 % noise, 401 biases over +-1.5 mV) analysed
1. naively: a Python loop calling analyze_spectrum on one spectrum after the other (over
   ``--naive-pixels`` of them when given: the rate is per spectrum);
2. analyze_map with 1 local worker (this process) and 2 local workers (Dask's process pool);
3. analyze_map with 2 local workers and the neighbour reseed (pixels not graded good refitted
   from their good neighbours' solutions): time and grades;
4. analyze_map on a distributed.LocalCluster with 2 worker processes (the cluster path; its
   start-up timed separately, its CPU included).
Printed: spectra/s (wall), speed-up over the naive loop, efficiency (speed-up per worker),
CPU seconds per spectrum (this process and its reaped children: pool and cluster processes,
the cluster's start-up included) and the work efficiency (naive CPU per spectrum over the
variant's, which background load does not change), and whether every variant gave the same
numbers. On a machine shared with other jobs the wall-clock ratios follow the load; the CPU
columns do not.

Memory: a ``--mem-size`` square map written to an HDF5 file (``/entry/grid``, one chunk per
spectrum as in a run file), opened lazily and analysed with 2 local workers in a child
process; the resident memory of the child and its workers is sampled every 0.2 s (psutil)
and the peak of the sum printed, with each process's own peak (ru_maxrss). ``--mem-rows R``
analyses only the first R rows of it (the file and the lazy cube stay full size);
``--mem-no-fits`` streams the whole map through the same graph with every pixel marked not
measured (every block is read and shipped, every pixel gets its result, no fit runs): the
machinery's memory at full size, to add to a worker's fit memory from a run with fits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _cube(size: int, n_bias: int, seed: int = 0):
    from stm_andreev.simulators.lab.grid_cube import synthetic_grid

    return synthetic_grid(size, size, n_bias, seed=seed)


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    import resource

    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _naive(cube, pixels: int) -> tuple[float, np.ndarray]:
    """A plain loop over spectra: (seconds, E_g of each pixel analysed)."""
    from stm_andreev.analysis import SpectrumInput, analyze_spectrum

    V = cube["bias"].values
    G = cube["G_S"].values
    ny, nx = G.shape[:2]
    out = []
    t0 = time.perf_counter()
    for k in range(pixels):
        iy, ix = divmod(k, nx)
        spec = SpectrumInput(V, G[iy, ix], "S", "naive", index=k, T_K=cube.attrs["temperature_K"],
                             Vmod_rms_V=cube.attrs["modulation_V"])
        out.append(analyze_spectrum(spec).result.E_g_eV)
    return time.perf_counter() - t0, np.array(out)


def scaling(size: int, n_bias: int, naive_pixels: int | None) -> None:
    from distributed import LocalCluster

    from stm_andreev.analysis.maps import analyze_map

    cube, truth = _cube(size, n_bias)
    n = size * size
    naive_n = min(naive_pixels or n, n)
    print(f"map {size} x {size} x {n_bias} ({n} spectra), {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    rows: list[tuple[str, int, float, int, float]] = []  # name, workers, s, spectra, CPU s
    c0 = _cpu()
    t, naive_eg = _naive(cube, naive_n)
    rows.append(("naive loop", 1, t, naive_n, _cpu() - c0))
    print(f"  naive loop: {naive_n} spectra in {t:.1f} s", flush=True)
    results = {}
    for name, kwargs, workers in (("analyze_map, 1 local worker", {"workers": 1}, 1),
                                  ("analyze_map, 2 local workers", {"workers": 2}, 2)):
        t0, c0 = time.perf_counter(), _cpu()
        results[name] = analyze_map(cube, **kwargs)
        rows.append((name, workers, time.perf_counter() - t0, n, _cpu() - c0))
        print(f"  {name}: {rows[-1][2]:.1f} s", flush=True)
    t0, c0 = time.perf_counter(), _cpu()
    reseeded = analyze_map(cube, workers=2, neighbours=True)
    rows.append(("2 local workers + neighbours", 2, time.perf_counter() - t0, n, _cpu() - c0))
    # The cluster last: its nanny processes may be reaped (and their CPU counted) late.
    t0, c0 = time.perf_counter(), _cpu()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        results["cluster"] = analyze_map(cube, scheduler=cluster)
        seconds = time.perf_counter() - t0
    rows.append(("LocalCluster, 2 workers", 2, seconds, n, _cpu() - c0))
    print(f"  LocalCluster: {rows[-1][2]:.1f} s (+ {start:.1f} s to start the cluster)",
          flush=True)

    naive_rate = naive_n / rows[0][2]
    naive_cpu = rows[0][4] / naive_n
    print(f"\nload average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'variant':32s} {'spectra/s':>10s} {'speed-up':>9s} {'efficiency':>10s} "
          f"{'CPU s/spectrum':>14s} {'work efficiency':>15s}")
    for name, workers, seconds, count, cpu in rows:
        rate = count / seconds
        print(f"{name:32s} {rate:10.2f} {rate / naive_rate:8.2f}x "
              f"{rate / naive_rate / workers:10.2f} {cpu / count:14.3f} "
              f"{naive_cpu / (cpu / count):15.2f}")
    base = results["analyze_map, 1 local worker"]
    same = {k: bool(np.array_equal(r["E_g"].values, base["E_g"].values, equal_nan=True)
                    and np.array_equal(r["Delta_c"].values, base["Delta_c"].values,
                                       equal_nan=True))
            for k, r in results.items()}
    naive_same = bool(np.array_equal(base["E_g"].values.ravel()[:naive_n], naive_eg))
    print(f"same numbers as 1 local worker: {same}; naive loop: {naive_same}")
    eg = base["E_g"].values
    print(f"E_g vs the gap map: correlation "
          f"{np.corrcoef(eg.ravel(), truth['E_g_eV'].ravel())[0, 1]:.4f}")
    for label, r in (("without", base), ("with", reseeded)):
        grades = np.bincount(r["E_g_grade"].values.ravel(), minlength=4)
        print(f"neighbour reseed {label}: E_g grades good/poor/failed/n.a. = "
              f"{'/'.join(map(str, grades))}")


def _memory_child(path: str, rows: int | None, no_fits: bool = False) -> None:
    """Analyse the lazy map in this process; print the result as JSON."""
    import resource

    from stm_andreev.analysis.maps import analyze_map
    from stm_andreev.simulators.lab.grid_cube import open_grid_file

    cube = open_grid_file(path)
    if rows:
        cube = cube.isel(y=slice(0, rows))
    if no_fits:
        cube["done"] = cube["done"] & False
    t0 = time.perf_counter()
    r = analyze_map(cube, workers=2)
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    good = int(np.count_nonzero(r["E_g_grade"].values == 0))
    print(json.dumps({"seconds": seconds, "pixels": int(r.sizes["y"] * r.sizes["x"]),
                      "good": good, "self_maxrss_MB": own, "children_maxrss_MB": kids}))


def memory(size: int, n_bias: int, rows: int | None, no_fits: bool = False) -> None:
    import psutil

    from stm_andreev.simulators.lab.grid_cube import write_grid_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.h5"
        cube, _ = _cube(size, n_bias, seed=2)
        write_grid_file(cube, path)
        file_mb = path.stat().st_size / 2**20
        cube_mb = cube["G_S"].nbytes / 2**20
        del cube
        proc = subprocess.Popen([sys.executable, __file__, "--memory-child", str(path),
                                 str(rows or 0), str(int(no_fits))], stdout=subprocess.PIPE,
                                text=True)
        peak = [0.0, 0.0]  # sums of RSS and of PSS (forked workers share pages: PSS
        # counts each shared page once over the processes, RSS once per process)

        def sample() -> None:
            p = psutil.Process(proc.pid)
            while proc.poll() is None:
                try:
                    infos = [q.memory_full_info() for q in [p, *p.children(recursive=True)]]
                except psutil.Error:
                    continue
                peak[0] = max(peak[0], sum(i.rss for i in infos) / 2**20)
                peak[1] = max(peak[1], sum(getattr(i, "pss", i.rss) for i in infos) / 2**20)
                time.sleep(0.2)

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        out, _ = proc.communicate()
        watcher.join()
    done = json.loads(out.strip().splitlines()[-1])
    print(f"\nmemory: {size} x {size} x {n_bias} map (G_S alone {cube_mb:.0f} MB in memory, "
          f"file {file_mb:.0f} MB), lazy from HDF5, 2 local workers, "
          f"{done['pixels']} pixels {'streamed without fits' if no_fits else 'analysed'} in "
          f"{done['seconds']:.0f} s ({done['good']} E_g graded good)")
    print(f"  peak memory of the child + its workers (sampled sums): PSS {peak[1]:.0f} MB, "
          f"RSS {peak[0]:.0f} MB (shared pages counted once per process); limit 2048 MB")
    print(f"  peak of the child alone {done['self_maxrss_MB']:.0f} MB, of its largest worker "
          f"{done['children_maxrss_MB']:.0f} MB (ru_maxrss)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-bias", type=int, default=401)
    parser.add_argument("--naive-pixels", type=int)
    parser.add_argument("--mem-size", type=int, default=128)
    parser.add_argument("--mem-rows", type=int)
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--quick", action="store_true", help="12 x 12 scaling, 32 x 32 memory")
    parser.add_argument("--mem-no-fits", action="store_true")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child[0], int(args.memory_child[1]) or None,
                      bool(int(args.memory_child[2])))
        return
    if args.quick:
        args.size, args.mem_size = 12, 32
    if not args.skip_scaling:
        scaling(args.size, args.n_bias, args.naive_pixels)
    if not args.skip_memory:
        memory(args.mem_size, args.n_bias, args.mem_rows, args.mem_no_fits)


if __name__ == "__main__":
    main()
