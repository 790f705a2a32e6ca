"""The run report's spectra analysed on Dask's local process scheduler (the report as
shipped: stm_andreev.analysis.parallel), by the hand-made forked workers it replaced (kept
here only, for comparison) and in one process, side by side; prints the medians, their ratios
and whether the numbers agree. Asserts nothing.

    python bench/bench_report_dask.py [--run-file PATH] [--repeats 3]

Every timing is a fresh interpreter (imports not timed) running analyze_items + write_report
on the same run file (a dry run of the default plan unless --run-file is given). Variants:
"dask processes" (as shipped: each spectrum a Dask task on the local process pool, fork
context, one process per CPU; inputs and results pickled through the pool), "forked workers"
(the previous implementation: a ProcessPoolExecutor forked with the inputs inherited, only an
index sent) and "one process". The variants take turns so background load falls on all alike.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_job = None  # (fn, items) inherited by the forked workers of the old implementation


def _forked_call(index):
    fn, items = _job
    return fn(items[index])


def _forked_map_items(fn, items, *, workers=None, catch=()):
    """The report's previous parallel.map_items: forked workers, only an index sent."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from stm_andreev.analysis import parallel

    global _job
    n = parallel.default_workers(len(items)) if workers is None else min(workers, len(items))

    def outcome(call):
        try:
            return call()
        except catch as exc:
            return exc

    if n <= 1:
        return [outcome(lambda item=item: fn(item)) for item in items]
    _job = (fn, items)
    try:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_forked_call, k) for k in range(len(items))]
            return [outcome(f.result) for f in futures]
    finally:
        _job = None


def worker(run_file: str, out_dir: str, variant: str) -> None:
    from dataclasses import asdict

    from stm_andreev.analysis import report

    if variant == "forked workers":
        report.map_items = _forked_map_items
    kwargs = {"workers": 1} if variant == "one process" else {}
    t0 = time.perf_counter()
    analyses = report.analyze_items([run_file], **kwargs)
    report.write_report(analyses, out_dir)
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256(json.dumps([asdict(a.result) for a in analyses], default=str,
                                       sort_keys=True).encode()).hexdigest()
    print(json.dumps({"seconds": seconds, "digest": digest, "n": len(analyses)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-file", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    variants = ("dask processes", "forked workers", "one process")
    times: dict[str, list[float]] = {v: [] for v in variants}
    digests: dict[str, set[str]] = {v: set() for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        run_file = args.run_file
        if run_file is None:
            folder = Path(tmp) / "run"
            subprocess.run([sys.executable, "-m", "stm_andreev.cli", "run", "--out",
                            str(folder), "--quiet", "--no-report"], check=True,
                           capture_output=True)
            run_file = next(folder.glob("*.h5"))
        for k in range(args.repeats):
            for v in variants:
                done = subprocess.run([sys.executable, __file__, "--worker", str(run_file),
                                       str(Path(tmp) / f"r{k}{v[0]}"), v],
                                      capture_output=True, text=True)
                if done.returncode:
                    sys.exit(f"{v} failed:\n{done.stderr}")
                out = json.loads(done.stdout.strip().splitlines()[-1])
                times[v].append(out["seconds"])
                digests[v].add(out["digest"])
                print(f"  {v:16s} run {k + 1}: {out['seconds']:.2f} s ({out['n']} spectra)",
                      flush=True)
    median = {v: statistics.median(t) for v, t in times.items()}
    print(f"analyze_items + write_report on {Path(run_file).name}, medians of {args.repeats}:")
    for v in variants:
        print(f"  {v:16s} {median[v]:6.2f} s   {median['one process'] / median[v]:.2f}x one "
              f"process")
    print(f"dask processes / forked workers time ratio: "
          f"{median['dask processes'] / median['forked workers']:.2f}; numbers identical "
          f"across variants: {len(set().union(*digests.values())) == 1}")


if __name__ == "__main__":
    main()
