"""How long `stm-andreev --help` and an argument error take, side by side with an earlier commit.

    python bench/bench_cli.py [--baseline REF] [--repeats 7]

Every timing is a fresh interpreter running what the ``stm-andreev`` console script runs
(``from stm_andreev.cli import main; sys.exit(main())``), wall time from start to exit, so
interpreter start-up and every import are included. Both trees are plain copies put first on
PYTHONPATH, laid out as pyproject's package-dir maps them (drivers/, procedures/ and
simulators/ inside the package): the baseline from ``git archive REF`` (default 69f270d, the
commit before the lazy imports), "now" from this checkout's files. The variants take turns,
so load from other processes falls on both alike; medians are printed with their ratio.
Asserts nothing, except that both trees answer with the same exit status.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE_LAZY_IMPORTS = "69f270d"
# folders mapped into the stm_andreev namespace (pyproject.toml, [tool.setuptools] package-dir)
MAPPED = ("drivers", "procedures", "simulators")
CASES = {
    "stm-andreev --help": ["--help"],
    "stm-andreev run --help": ["run", "--help"],
    "stm-andreev analyze --help": ["analyze", "--help"],
    "stm-andreev check-config (argument missing)": ["check-config"],
    "stm-andreev run --no-such-option": ["run", "--no-such-option"],
}
ENTRY = "import sys; from stm_andreev.cli import main; sys.exit(main())"


def lay_out(source: Path, target: Path) -> Path:
    """Copy the package from ``source`` to ``target`` with the mapped folders inside it."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source / "stm_andreev", target / "stm_andreev", ignore=ignore)
    for name in MAPPED:
        shutil.copytree(source / name, target / "stm_andreev" / name, ignore=ignore)
    return target


def _env(python_path: str) -> dict[str, str]:
    return {"PYTHONPATH": python_path, "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}


def timed(python_path: str, argv: list[str]) -> tuple[float, int]:
    # cwd: the tree's parent, not this checkout (`python -c` puts the cwd first on sys.path)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", ENTRY, *argv], env=_env(python_path),
                          cwd=Path(python_path).parent, capture_output=True, text=True)
    return time.perf_counter() - t0, done.returncode


def origin(python_path: str) -> str:
    """Where the interpreter finds stm_andreev with this PYTHONPATH (a sanity check)."""
    return subprocess.run(
        [sys.executable, "-c", "import stm_andreev.cli as c, stm_andreev.drivers as d; "
                               "print(c.__file__, d.__file__)"],
        env=_env(python_path), cwd=Path(python_path).parent, capture_output=True, text=True,
        check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BEFORE_LAZY_IMPORTS, help="git ref to compare with")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old_src = tmp / "baseline-src"
        old_src.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive, check=True)
        variants = {
            f"before ({args.baseline})": str(lay_out(old_src, tmp / "baseline")),
            "now": str(lay_out(REPO, tmp / "now")),
        }
        for name, path in variants.items():
            print(f"{name}: {origin(path)}")
            for argv in CASES.values():  # compile the .pyc files once; not timed
                timed(path, argv)
        bare: list[float] = []
        times = {(case, name): [] for case in CASES for name in variants}
        codes: dict[tuple[str, str], set[int]] = {key: set() for key in times}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append(time.perf_counter() - t0)
            for case, argv in CASES.items():
                for name, path in variants.items():
                    seconds, code = timed(path, argv)
                    times[case, name].append(seconds)
                    codes[case, name].add(code)
    before, now = variants
    print(f"\nwall time of a fresh `stm-andreev ...` process, median of {args.repeats} "
          f"(interpreter alone, `python -c pass`: {statistics.median(bare) * 1e3:.0f} ms)")
    print(f"{'command':45s} {'exit':>4s} {before:>18s} {'now':>9s} {'before/now':>11s}")
    for case in CASES:
        t_before = statistics.median(times[case, before])
        t_now = statistics.median(times[case, now])
        code = "/".join(str(c) for c in sorted(codes[case, before] | codes[case, now]))
        if codes[case, before] != codes[case, now]:
            code += " (differ!)"
        print(f"{case:45s} {code:>4s} {t_before * 1e3:15.0f} ms {t_now * 1e3:6.0f} ms "
              f"{t_before / t_now:10.1f}x")


if __name__ == "__main__":
    main()
