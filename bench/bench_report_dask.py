"""The run report's spectra analysed by the project's forked workers
(stm_andreev.analysis.parallel) and by Dask's local process scheduler, side by side; prints
the medians, their ratio and whether the numbers agree. Asserts nothing.

    python bench/bench_report_dask.py [--run-file PATH] [--repeats 3]

Every timing is a fresh interpreter (imports not timed) running analyze_items + write_report
on the same run file (a dry run of the default plan unless --run-file is given). Variants:
"forked workers" (the report as shipped: one forked process per CPU, inputs inherited at the
fork, only an index sent), "dask processes" (the same spectra as Dask delayed tasks on
dask's multiprocessing scheduler, fork context, one process per CPU: every input and result
pickled through the pool) and "one process". The variants take turns so background load
falls on all alike.
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


def _dask_map_items(fn, items, *, workers=None, catch=()):
    """parallel.map_items on Dask's local process scheduler (what the report would use)."""
    import dask
    from dask import delayed

    from stm_andreev.analysis import parallel

    n = parallel.default_workers(len(items)) if workers is None else workers

    def outcome(item):
        try:
            return fn(item)
        except catch as exc:
            return exc

    tasks = [delayed(outcome, pure=False)(item) for item in items]
    with dask.config.set({"multiprocessing.context": "fork"}):
        return list(dask.compute(*tasks, scheduler="processes" if n > 1 else "sync",
                                 num_workers=n))


def worker(run_file: str, out_dir: str, variant: str) -> None:
    from dataclasses import asdict

    from stm_andreev.analysis import report

    if variant == "dask processes":
        report.map_items = _dask_map_items
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
    variants = ("forked workers", "dask processes", "one process")
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
