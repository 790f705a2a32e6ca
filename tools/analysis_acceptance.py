"""The analysis acceptance set, whole: every case analysed, one line per case, then totals.

    python tools/analysis_acceptance.py [--seeds 3] [--workers N]

Each case is a spectrum with known parameters (tests/analysis/acceptance_cases.py: InO-2- and
InO-4-like films, tunnelling / intermediate / contact barriers, 65 mK to 1.2 Tc, 0.5 % noise).
A value more than 3 sigma from its truth is a miss; a miss in a fit graded good is a silent
miss, which must never happen. Exit status 1 if there is one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stm_andreev.analysis.errors import FitError  # noqa: E402
from stm_andreev.analysis.parallel import map_items  # noqa: E402
from stm_andreev.analysis.pipeline import analyze_spectrum  # noqa: E402
from tests.analysis.acceptance_cases import (  # noqa: E402
    all_cases,
    make_case,
    misses,
    silent_misses,
)


def _one(case):
    spec, tr = make_case(*case)
    try:
        return analyze_spectrum(spec).result, tr
    except FitError as exc:
        return exc, tr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cases = all_cases(range(args.seeds))
    results = map_items(_one, cases, workers=args.workers)
    counts = {"good": 0, "poor": 0, "failed": 0, "error": 0}
    n_miss = n_silent = 0
    print(f"{'case':<38} {'model':<8} {'grade':<6} {'chi2/s2':>7}  values (reported±err "
          "truth, n sigma)")
    for case, (r, tr) in zip(cases, results, strict=True):
        name = f"{case[0]}/{case[1]}/t={case[2]:.2f}/s{case[3]}"
        if isinstance(r, Exception):
            counts["error"] += 1
            print(f"{name:<38} FitError: {r}")
            continue
        counts[r.quality] += 1
        m, silent = misses(r, tr), silent_misses(r, tr)
        n_miss += bool(m)
        n_silent += bool(silent)
        vals = "  ".join(f"{c.name}={c.value * (1 if c.name == 'Z' else 1e6):.3g}"
                         f"±{(c.error or 0) * (1 if c.name == 'Z' else 1e6):.2g}"
                         f"({c.truth * (1 if c.name == 'Z' else 1e6):.3g},{c.n_sigma:.1f})"
                         for c in m)
        flag = "SILENT MISS " if silent else ("flagged miss " if m else "ok ")
        reason = "" if r.quality == "good" else f" [{r.quality_reason}]"
        print(f"{name:<38} {r.model:<8} {r.quality:<6} {r.chi2_noise:7.2f}  {flag}{vals}"
              f"{reason}")
    total = len(cases)
    print(f"\n{total} cases: {counts['good']} good, {counts['poor']} poor, "
          f"{counts['failed']} failed, {counts['error']} not fitted; "
          f"{n_miss} with a value > 3 sigma off, {n_silent} of them graded good (silent)")
    return 1 if n_silent else 0


if __name__ == "__main__":
    sys.exit(main())
