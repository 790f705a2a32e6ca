"""Per-pixel analysis of a spectroscopic map on Dask: scaling and peak memory, printed side by
side. Asserts nothing.

    python bench/bench_maps.py                  # 64 x 64 x 401 scaling, 128 x 128 x 401 memory
    python bench/bench_maps.py [--size 64] [--n-bias 401] [--naive-pixels N] [--one-stride S]
                               [--neighbours] [--mem-size 128] [--mem-fit-every K]
                               [--mem-rows R] [--mem-no-fits] [--skip-scaling] [--skip-memory]
    python bench/bench_maps.py --quick          # 12 x 12 scaling, 32 x 32 memory

Scaling: a synthetic InO-2-like map (the lab's gap map, E_g 200-650 ueV, Delta_c ~150 ueV,
two-gap contact spectra, 0.5 % noise, 401 biases over +-1.5 mV) analysed
1. naively: a Python loop calling analyze_spectrum on one spectrum after the other, over
   ``--naive-pixels`` of them (default 256) taken on a regular sub-grid of the map (every
   k-th row and column, so the sample spans the gap map): the rate is per spectrum;
2. analyze_map with 1 local worker (this process) on the sub-grid of every ``--one-stride``-th
   row and column (default 2: a quarter of the map, spread over it like the naive sample),
   and with 2 local workers (Dask's process pool) on the whole map;
3. optionally (``--neighbours``) 2 local workers with the neighbour reseed;
4. analyze_map on a distributed.LocalCluster with 2 worker processes (the cluster path; its
   start-up timed separately, its CPU included) on the whole map.
Printed: spectra/s (wall), speed-up over the naive loop, efficiency (speed-up per worker),
CPU seconds per spectrum (this process and its reaped children: the pool's processes; for the
cluster, the live scheduler, nannies and workers during the computation, its start and stop
printed apart) and the work efficiency (naive CPU per spectrum over the
variant's, which background load changes less than wall time), and whether every variant
gave the same numbers on the pixels they share. Every variant runs with the allocator
setting the map analysis applies (:mod:`stm_andreev.allocator`), the naive loop included,
so the columns compare scheduling, not malloc.

Memory: a ``--mem-size`` square map written to an HDF5 file (``/entry/grid``, one chunk per
spectrum as in a run file), opened lazily and analysed with 2 local workers in a child
process; the resident memory of the child and its workers is sampled every 0.2 s (psutil)
and the peak of the sum printed, with each process's own peak (ru_maxrss). Every block of the
map is read, shipped and analysed; ``--mem-fit-every K`` (default 8) fits one pixel in K
(the others are marked not measured: every 8 x 8 block still runs 8 fits), ``1`` fits all
(16384 spectra: ~15 CPU-minutes); ``--mem-rows R`` keeps only the first R rows;
``--mem-no-fits`` streams the whole map without any fit.
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


def _tree_cpu() -> float:
    """CPU seconds of this process and its live descendants (psutil)."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _reap() -> None:
    """Wait (up to 30 s) for child processes that are ending, so their CPU is counted."""
    import multiprocessing

    deadline = time.monotonic() + 30
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)


def _sub_grid(cube, stride: int):
    return cube.isel(y=slice(None, None, stride), x=slice(None, None, stride))


def _naive(cube) -> tuple[float, np.ndarray]:
    """A plain loop over spectra: (seconds, E_g of each pixel in raster order)."""
    from stm_andreev.analysis import SpectrumInput, analyze_spectrum

    V = cube["bias"].values
    G = cube["G_S"].values
    ny, nx = G.shape[:2]
    out = []
    t0 = time.perf_counter()
    for k in range(ny * nx):
        iy, ix = divmod(k, nx)
        spec = SpectrumInput(V, G[iy, ix], "S", "naive", index=k, T_K=cube.attrs["temperature_K"],
                             Vmod_rms_V=cube.attrs["modulation_V"])
        out.append(analyze_spectrum(spec).result.E_g_eV)
    return time.perf_counter() - t0, np.array(out).reshape(ny, nx)


def _same(a, b) -> bool:
    return all(np.array_equal(a[q].values, b[q].values, equal_nan=True)
               for q in ("E_g", "E_g_sigma", "E_g_grade", "Delta_c", "Delta_c_sigma", "Z",
                         "Gamma", "G_N"))


def scaling(size: int, n_bias: int, naive_pixels: int, one_stride: int,
            neighbours: bool) -> None:
    from distributed import LocalCluster

    from stm_andreev.allocator import keep_freed_memory
    from stm_andreev.analysis.maps import analyze_map

    keep_freed_memory()
    cube, truth = _cube(size, n_bias)
    n = size * size
    naive_stride = max(1, int(np.ceil(np.sqrt(n / max(naive_pixels, 1)))))
    naive_cube = _sub_grid(cube, naive_stride)
    one_cube = _sub_grid(cube, max(1, one_stride))
    print(f"map {size} x {size} x {n_bias} ({n} spectra), {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}; naive loop on every {naive_stride}th row and column "
          f"({naive_cube.sizes['y'] * naive_cube.sizes['x']} spectra), 1 worker on every "
          f"{one_stride}th ({one_cube.sizes['y'] * one_cube.sizes['x']})", flush=True)
    rows: list[tuple[str, int, float, int, float]] = []  # name, workers, s, spectra, CPU s
    c0 = _cpu()
    t, naive_eg = _naive(naive_cube)
    rows.append(("naive loop", 1, t, naive_eg.size, _cpu() - c0))
    print(f"  naive loop: {naive_eg.size} spectra in {t:.1f} s", flush=True)
    results = {}
    variants = [("analyze_map, 1 local worker", one_cube, {"workers": 1}, 1),
                ("analyze_map, 2 local workers", cube, {"workers": 2}, 2)]
    if neighbours:
        variants.append(("2 local workers + neighbours", cube,
                         {"workers": 2, "neighbours": True}, 2))
    for name, c, kwargs, workers in variants:
        t0, c0 = time.perf_counter(), _cpu()
        results[name] = analyze_map(c, **kwargs)
        seconds = time.perf_counter() - t0
        _reap()
        rows.append((name, workers, seconds, c.sizes["y"] * c.sizes["x"], _cpu() - c0))
        print(f"  {name}: {seconds:.1f} s", flush=True)
    # The cluster last: its nanny processes may be reaped (and their CPU counted) late.
    # Its CPU per spectrum is that of the computation (scheduler, nannies and workers, live
    # processes summed); starting and stopping it is printed apart.
    t0, c0 = time.perf_counter(), _cpu()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        start = time.perf_counter() - t0
        t0, tree0 = time.perf_counter(), _tree_cpu()
        results["LocalCluster, 2 workers"] = analyze_map(cube, scheduler=cluster)
        seconds, compute_cpu = time.perf_counter() - t0, _tree_cpu() - tree0
    _reap()
    rows.append(("LocalCluster, 2 workers", 2, seconds, n, compute_cpu))
    print(f"  LocalCluster: {seconds:.1f} s (+ {start:.1f} s to start the cluster; its start "
          f"and stop cost {_cpu() - c0 - compute_cpu:.1f} CPU-s besides the computation's "
          f"{compute_cpu:.1f})", flush=True)

    naive_rate = rows[0][3] / rows[0][2]
    naive_cpu = rows[0][4] / rows[0][3]
    one_rate = rows[1][3] / rows[1][2]
    print(f"\nload average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'variant':32s} {'spectra':>7s} {'spectra/s':>10s} {'speed-up':>9s} "
          f"{'efficiency':>10s} {'vs 1 worker':>11s} {'CPU s/spectrum':>14s} "
          f"{'work efficiency':>15s}")
    for name, workers, seconds, count, cpu in rows:
        rate = count / seconds
        print(f"{name:32s} {count:7d} {rate:10.2f} {rate / naive_rate:8.2f}x "
              f"{rate / naive_rate / workers:10.2f} {rate / one_rate:10.2f}x "
              f"{cpu / count:14.3f} {naive_cpu / (cpu / count):15.2f}")
    full = results["analyze_map, 2 local workers"]
    same = {k: _same(r, _sub_grid(full, one_stride) if k.startswith("analyze_map, 1") else full)
            for k, r in results.items()}
    naive_same = bool(np.array_equal(_sub_grid(full, naive_stride)["E_g"].values, naive_eg,
                                     equal_nan=True))
    print(f"same numbers as 2 local workers (on the pixels in common): {same}; naive loop: "
          f"{naive_same}")
    eg = full["E_g"].values
    print(f"E_g vs the gap map: correlation "
          f"{np.corrcoef(eg.ravel(), truth['E_g_eV'].ravel())[0, 1]:.4f}")
    for label, r in (("without", full), ("with", results.get("2 local workers + neighbours"))):
        if r is not None:
            grades = np.bincount(r["E_g_grade"].values.ravel(), minlength=4)
            print(f"neighbour reseed {label}: E_g grades good/poor/failed/n.a. = "
                  f"{'/'.join(map(str, grades))}")


def _memory_child(path: str, rows: int | None, fit_every: int) -> None:
    """Analyse the lazy map in this process (one pixel in ``fit_every`` measured, none when
    0); print the result as JSON."""
    import resource

    from stm_andreev.analysis.maps import analyze_map
    from stm_andreev.simulators.lab.grid_cube import open_grid_file

    cube = open_grid_file(path)
    if rows:
        cube = cube.isel(y=slice(0, rows))
    ny, nx = cube["done"].shape
    if fit_every != 1:
        raster = np.arange(ny * nx).reshape(ny, nx)
        cube["done"] = cube["done"] & ((raster % fit_every == 0) if fit_every else False)
    t0 = time.perf_counter()
    r = analyze_map(cube, workers=2)
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    good = int(np.count_nonzero(r["E_g_grade"].values == 0))
    fitted = int(np.count_nonzero(r["E_g_grade"].values != 3))
    print(json.dumps({"seconds": seconds, "pixels": int(r.sizes["y"] * r.sizes["x"]),
                      "good": good, "fitted": fitted, "self_maxrss_MB": own, "children_maxrss_MB": kids}))


def memory(size: int, n_bias: int, rows: int | None, fit_every: int) -> None:
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
                                 str(rows or 0), str(fit_every)], stdout=subprocess.PIPE,
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
          f"file {file_mb:.0f} MB), lazy from HDF5, 2 local workers: all {done['pixels']} "
          f"pixels read and shipped in {done['seconds']:.0f} s, {done['fitted']} of them "
          f"fitted ({done['good']} E_g graded good)")
    print(f"  peak memory of the child + its workers (sampled sums): PSS {peak[1]:.0f} MB, "
          f"RSS {peak[0]:.0f} MB (shared pages counted once per process); limit 2048 MB")
    print(f"  peak of the child alone {done['self_maxrss_MB']:.0f} MB, of its largest worker "
          f"{done['children_maxrss_MB']:.0f} MB (ru_maxrss)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-bias", type=int, default=401)
    parser.add_argument("--naive-pixels", type=int, default=256)
    parser.add_argument("--one-stride", type=int, default=2,
                        help="1 local worker on every S-th row and column")
    parser.add_argument("--neighbours", action="store_true",
                        help="also 2 local workers with the neighbour reseed")
    parser.add_argument("--mem-size", type=int, default=128)
    parser.add_argument("--mem-rows", type=int)
    parser.add_argument("--mem-fit-every", type=int, default=8,
                        help="fit one pixel in K of the memory map (1: all)")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--quick", action="store_true", help="12 x 12 scaling, 32 x 32 memory")
    parser.add_argument("--mem-no-fits", action="store_true")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child[0], int(args.memory_child[1]) or None,
                      int(args.memory_child[2]))
        return
    if args.quick:
        args.size, args.mem_size = 12, 32
    if not args.skip_scaling:
        scaling(args.size, args.n_bias, args.naive_pixels, args.one_stride, args.neighbours)
    if not args.skip_memory:
        memory(args.mem_size, args.n_bias, args.mem_rows,
               0 if args.mem_no_fits else max(1, args.mem_fit_every))


if __name__ == "__main__":
    main()
