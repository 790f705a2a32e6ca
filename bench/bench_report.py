"""The run report (write_report on one dry-run file) timed side by side with an earlier commit;
prints the medians, their ratios and how far the fitted numbers moved. Asserts nothing.

    python bench/bench_report.py [--baseline REF] [--run-file PATH] [--repeats 3]

Every timing is a fresh interpreter (imports not timed) analysing the same run file: a dry run
of the default plan (paper-inO2, 46 spectra) made with this tree unless --run-file is given.
The baseline is ``git archive REF`` unpacked and put first on PYTHONPATH; this tree is timed
as it runs by default (worker processes where safe, see stm_andreev.analysis.parallel) and in
one process. The variants take turns, so load from other processes falls on all alike. The
default baseline is the commit before the fit speed-ups (complex gap factors, every Jacobian
row through the FFTs, one process).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE_SPEEDUPS = "1a4281b0e3b03218ad998d543848f09a1b4d3eeb"


def worker(run_file: str, out_dir: str, workers: str) -> None:
    """Time write_report in this interpreter; print the seconds and every fitted number."""
    from dataclasses import asdict

    from stm_andreev.analysis.report import analyze_items, write_report

    # The baseline knows no ``workers`` argument: it is passed only when asked for.
    kwargs = {} if workers == "default" else {"workers": int(workers)}
    t0 = time.perf_counter()
    # write_report passes Analyses through, so this is write_report([run_file]) with the
    # per-spectrum results kept for the comparison.
    analyses = analyze_items([run_file], **kwargs)
    write_report(analyses, out_dir)
    seconds = time.perf_counter() - t0
    results = []
    for a in analyses:
        row = {k: v for k, v in asdict(a.result).items() if isinstance(v, float)}
        row.update({f"fit {k}": v for k, v in a.fit.params.items()})
        row.update({f"fit {k} err": v for k, v in a.fit.errors.items()})
        row.update({"fit chi2_red": a.fit.chi2_red, "model": a.result.model})
        results.append(row)
    print(json.dumps({"seconds": seconds, "results": results}))


_SIGMA = {"E_g_eV": "E_g_err_eV", "delta_c_eV": "delta_c_err_eV", "gamma_eV": "gamma_err_eV",
          "delta_c_fit_eV": "delta_c_fit_err_eV", "Z": "Z_err"}


def deviations(old: list[dict], new: list[dict]) -> tuple[float, str, float, str, int]:
    """Largest relative change of any number, largest change in units of its own 1-sigma
    error (where it has one), and how many spectra changed model."""
    rel, rel_at, sig, sig_at, models = 0.0, "-", 0.0, "-", 0
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        models += a["model"] != b["model"]
        for key, x in a.items():
            y = b.get(key)
            if not isinstance(x, float) or not isinstance(y, float) or x == y:
                continue
            r = abs(y - x) / abs(x) if x else math.inf
            if r > rel:
                rel, rel_at = r, f"spectrum {i} {key}"
            err = a.get(f"{key} err") or a.get(_SIGMA.get(key, ""))
            if err and abs(y - x) / err > sig:
                sig, sig_at = abs(y - x) / err, f"spectrum {i} {key}"
    return rel, rel_at, sig, sig_at, models


def timed_run(python_path: str | None, workers: str, run_file: Path, out: Path) -> dict:
    env = None if python_path is None else {**os.environ, "PYTHONPATH": python_path}
    done = subprocess.run([sys.executable, __file__, "--worker", str(run_file), str(out), workers],
                          env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"write_report failed ({python_path or 'this tree'}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_run_file(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "stm_andreev.cli", "run", "--out", str(folder),
                    "--quiet", "--no-report"], check=True, capture_output=True)
    return next(folder.glob("*.h5"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BEFORE_SPEEDUPS, help="git ref to compare with")
    parser.add_argument("--run-file", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old_tree = tmp / "baseline"
        old_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
        run_file = args.run_file or make_run_file(tmp / "run")
        variants = {  # name: (PYTHONPATH, workers)
            "baseline": (str(old_tree), "default"),
            "this tree, 1 process": (None, "1"),
            "this tree": (None, "default"),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        results = {}
        for k in range(args.repeats):
            for name, (path, workers) in variants.items():
                done = timed_run(path, workers, run_file, tmp / f"report-{k}-{len(times[name])}"
                                 f"-{name.replace(' ', '_')}")
                times[name].append(done["seconds"])
                results[name] = done["results"]
                print(f"  {name:20s} run {k + 1}: write_report {done['seconds']:.2f} s",
                      flush=True)
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"write_report on {run_file.name} ({len(results['this tree'])} spectra), medians of "
          f"{args.repeats}, baseline = {args.baseline[:10]}:")
    for name, t in median.items():
        print(f"  {name:20s} {t:6.2f} s   speed-up {median['baseline'] / t:.2f}x")
    rel, rel_at, sig, sig_at, models = deviations(results["baseline"], results["this tree"])
    print(f"results against the baseline: largest relative change {rel:.2e} ({rel_at}); largest "
          f"change in units of its own 1-sigma error {sig:.2e} ({sig_at}); spectra that changed "
          f"model: {models}; one process vs workers: "
          f"{'identical' if results['this tree'] == results['this tree, 1 process'] else 'DIFFER'}")


if __name__ == "__main__":
    main()
