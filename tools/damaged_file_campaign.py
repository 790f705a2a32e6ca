"""Damage a finished run file many ways; `verify`, `analyze` and `--resume` must each answer.

    python tools/damaged_file_campaign.py                 # 20 truncations, 50 byte flips
    python tools/damaged_file_campaign.py --cuts 3 --flips 4 --file RUN.h5

A finished run file (``stm-andreev run quick``, or ``--file``) is cut short at ``--cuts``
offsets and has one byte flipped at ``--flips`` offsets (half of them inside stored spectra,
the rest anywhere). Each damaged copy goes through ``stm-andreev verify``, ``analyze`` and
``run --resume`` as a user would run them, in child processes; a damaged copy whose verdict is
``damaged`` also through ``run --resume COPY --into NEW``. Checked for every case: each
command ended (a child is killed after 120 s), with no traceback, and its message names the
file; a flip inside stored spectra is never read as intact; every spectrum reported intact
reads back exactly as in the undamaged file; a refused ``--resume`` left the copy byte for byte
as it was; ``--into`` finished the plan in NEW with the intact spectra unchanged. Prints a
Markdown table (one row per case, the slowest of `verify`, `analyze` and `--resume`; `--into`
re-measures spectra, so its time is a run's and is reported apart), the median and maximum wall
time of each command over all cases, and the interpreter's start-up (`python -c pass` and
`stm-andreev --help`, measured the same way) for comparison; exit status 0 when every case
passed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Wall bound on each command (the commands' own checks stop at 30 s; this catches a hang).
COMMAND_TIMEOUT_S = 120.0
SEED = 20261206

READ_BACK = r"""
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r", libver="latest", swmr=True, locking=False)
ledger = [int(p) for p in f["entry/ledger"][()]]
names = json.loads(sys.argv[2])
print(json.dumps({str(p): [float(np.nansum(f["entry/data"][n][row])) for n in names]
                  for row, p in enumerate(ledger) if p in json.loads(sys.argv[3])}))
"""


def describe(path: Path) -> dict:
    """The undamaged file: bytes, ledger, per-point sums of every spectrum dataset, and the
    byte offset of every spectrum chunk."""
    import h5py
    import numpy as np

    from stm_andreev.storage.layout import DATA, SPECTRUM_DATASETS

    names = [c.name for _, c in SPECTRUM_DATASETS]
    with h5py.File(path, "r") as f:
        ledger = [int(p) for p in f["entry/ledger"][()]]
        sums = {p: [float(np.nansum(f[DATA][n][row])) for n in names]
                for row, p in enumerate(ledger)}
        chunks = [f[DATA][n].id.get_chunk_info(row).byte_offset
                  for n in names for row in range(len(ledger))]
    return {"path": path, "bytes": path.read_bytes(), "ledger": ledger, "sums": sums,
            "names": names, "chunks": chunks}


def variants(data: bytes, chunks: list[int], n_cuts: int, n_flips: int,
             seed: int = SEED) -> list[tuple[str, bytes, bool]]:
    """(name, content, flip inside a stored spectrum) for each damaged copy: cut short by 1,
    512, 4096 bytes and random amounts; flips first into spectrum chunks, then anywhere."""
    size = len(data)
    rng = random.Random(seed)
    out: list[tuple[str, bytes, bool]] = []
    cuts = sorted({1, 512, 4096, *(rng.randrange(1, size) for _ in range(n_cuts))})[:n_cuts]
    for cut in cuts:
        out.append((f"cut-{cut}", data[:size - cut], False))
    offsets = list(chunks)[: n_flips // 2]
    offsets += [rng.randrange(size) for _ in range(n_flips - len(offsets))]
    in_data = set(chunks)
    for offset in offsets:
        flipped = bytearray(data)
        flipped[offset] ^= 0x10
        out.append((f"flip-{offset}", bytes(flipped), offset in in_data))
    return out


def _cli(*args: str) -> tuple[subprocess.CompletedProcess | None, float]:
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "stm_andreev.cli", *args],
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc = None
    return proc, time.perf_counter() - start


def _read_back(path: Path, points: list[int], names: list[str]) -> dict | None:
    try:
        proc = subprocess.run([sys.executable, "-c", READ_BACK, str(path), json.dumps(names),
                               json.dumps(points)], capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def run_case(name: str, content: bytes, in_data: bool, original: dict, work: Path,
             *, into: bool = True) -> dict:
    """Every command on one damaged copy; ``problems`` lists what failed (empty: passed)."""
    path = work / f"{name}.h5"
    path.write_bytes(content)
    problems: list[str] = []
    times: dict[str, float] = {}

    def answered(what: str, proc, seconds: float, codes: tuple[int, ...]) -> bool:
        times[what] = seconds
        if proc is None:
            problems.append(f"{what} did not end")
            return False
        text = proc.stdout + proc.stderr
        if "Traceback" in text:
            problems.append(f"{what} printed a traceback")
        if proc.returncode not in codes:
            problems.append(f"{what} exit {proc.returncode}")
        if proc.returncode != 0 and str(path) not in text:
            problems.append(f"{what}'s message does not name the file")
        return True

    proc, seconds = _cli("verify", "--json", str(path))
    verdict: dict = {"state": "?", "intact": []}
    if answered("verify", proc, seconds, (0, 1)) and proc.stdout.strip():
        verdict = json.loads(proc.stdout.strip().splitlines()[-1])
        if verdict["path"] != str(path):
            problems.append("verify's verdict does not name the file")
    state, intact = verdict["state"], list(verdict["intact"])
    if in_data and state == "intact":
        problems.append("a flip in a stored spectrum was read as intact")
    if intact:
        got = _read_back(path, intact, original["names"])
        if got is None:
            problems.append("spectra reported intact cannot be read")
        else:
            wrong = [p for p in intact if got.get(str(p)) != original["sums"][p]]
            if wrong:
                problems.append(f"points {wrong} reported intact but differ")
    ok_codes = (0,) if state == "intact" else (1,)
    proc, seconds = _cli("analyze", str(path))
    answered("analyze", proc, seconds, ok_codes)
    before = path.read_bytes()
    proc, seconds = _cli("run", "--resume", str(path), "--no-report", "--quiet")
    answered("--resume", proc, seconds, (0,) if state == "intact" else (2,))
    if state != "intact" and path.read_bytes() != before:
        problems.append("a refused --resume changed the file")
    if state == "damaged" and proc is not None and "--into" not in proc.stderr:
        problems.append("the refusal does not name --into")
    into_result = "-"
    if into and state == "damaged":
        new = work / f"{name}-continued.h5"
        proc, seconds = _cli("run", "--resume", str(path), "--into", str(new), "--no-report",
                             "--quiet")
        answered("--into", proc, seconds, (0,))
        got = _read_back(new, list(original["sums"]), original["names"]) if new.exists() \
            else None
        if got is None or sorted(int(p) for p in got) != sorted(original["sums"]):
            problems.append("--into did not finish the plan in the new file")
            into_result = "failed"
        else:
            changed = [p for p in intact if got[str(p)] != original["sums"][p]]
            if changed:
                problems.append(f"--into changed the copied points {changed}")
            into_result = f"{len(intact)} copied, {len(got) - len(intact)} re-measured"
        if path.read_bytes() != before:
            problems.append("--into changed the damaged file")
    return {"case": name, "in_data": in_data, "state": state, "intact": len(intact),
            "planned": len(original["ledger"]), "into": into_result,
            "slowest_s": max(v for k, v in times.items() if k != "--into"),
            "times": times, "problems": problems}


def table(rows: list[dict]) -> str:
    lines = ["| case | flip in a spectrum | verify | intact reported | --into | slowest "
             "command (s) | --into (s) | result |",
             "| --- | --- | --- | ---: | --- | ---: | ---: | --- |"]
    for r in rows:
        into_s = f"{r['times']['--into']:.1f}" if "--into" in r["times"] else "-"
        lines.append(f"| {r['case']} | {'yes' if r['in_data'] else ''} | {r['state']} | "
                     f"{r['intact']}/{r['planned']} | {r['into']} | {r['slowest_s']:.1f} | "
                     f"{into_s} | {'; '.join(r['problems']) or 'pass'} |")
    return "\n".join(lines)


def startup_times(n: int = 5) -> dict[str, float]:
    """Median wall seconds of a bare interpreter and of `stm-andreev --help` (the CLI's own
    start-up), measured like the commands (child processes), for comparison."""
    out = {}
    for what, args in (("python -c pass", ["-c", "pass"]),
                       ("stm-andreev --help", ["-m", "stm_andreev.cli", "--help"])):
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            subprocess.run([sys.executable, *args], capture_output=True,
                           timeout=COMMAND_TIMEOUT_S)
            samples.append(time.perf_counter() - start)
        out[what] = statistics.median(samples)
    return out


def command_times(rows: list[dict]) -> str:
    """Median and maximum wall time of each command over the cases that ran it."""
    lines = ["| command | cases | median (s) | max (s) |", "| --- | ---: | ---: | ---: |"]
    for what in ("verify", "analyze", "--resume", "--into"):
        t = [r["times"][what] for r in rows if what in r["times"]]
        if t:
            lines.append(f"| {what} | {len(t)} | {statistics.median(t):.2f} | {max(t):.2f} |")
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    flips = [r for r in rows if r["in_data"]]
    return (f"{len(rows)} damaged copies ({sum(r['case'].startswith('cut') for r in rows)} cut "
            f"short, {sum(r['case'].startswith('flip') for r in rows)} flipped): verdicts "
            + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            + f"; {sum(r['state'] != 'intact' for r in flips)}/{len(flips)} flips in stored "
            f"spectra detected; slowest verify/analyze/--resume "
            f"{max(r['slowest_s'] for r in rows):.1f} s (median of the per-case slowest "
            f"{statistics.median(r['slowest_s'] for r in rows):.1f} s); "
            + "".join(f"on the {len(part)} {what} copies {max(part):.1f} s (median "
                      f"{statistics.median(part):.1f} s); "
                      for what, part in (
                          ("intact", [r["slowest_s"] for r in rows if r["state"] == "intact"]),
                          ("damaged or unreadable",
                           [r["slowest_s"] for r in rows if r["state"] != "intact"]))
                      if part)
            + f"{sum(not r['problems'] for r in rows)}/{len(rows)} cases passed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuts", type=int, default=20)
    parser.add_argument("--flips", type=int, default=50)
    parser.add_argument("--file", type=Path, default=None,
                        help="a finished run file whose station and plan --resume can "
                             "continue (default: a fresh `stm-andreev run quick`)")
    parser.add_argument("--no-into", action="store_true", help="skip --resume --into")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="damaged-campaign-") as tmp:
        work = Path(tmp)
        source = args.file
        if source is None:
            proc, _ = _cli("run", "quick", "--out", str(work / "fresh"), "--no-report",
                           "--quiet")
            if proc is None or proc.returncode != 0:
                print("error: could not make a run file to damage", file=sys.stderr)
                return 2
            (source,) = (work / "fresh").glob("*.h5")
        original = describe(source)
        before = startup_times()
        rows = []
        for name, content, in_data in variants(original["bytes"], original["chunks"],
                                               args.cuts, args.flips):
            rows.append(run_case(name, content, in_data, original, work,
                                 into=not args.no_into))
            print(f"{name}: {rows[-1]['state']} {'; '.join(rows[-1]['problems']) or 'pass'}",
                  file=sys.stderr, flush=True)
        print(table(rows))
        print()
        print(command_times(rows))
        print()
        after = startup_times()
        print("start-up (median of 5, before / after the cases): " + "; ".join(
            f"{k} {before[k]:.2f} / {after[k]:.2f} s" for k in before)
            + f"; load average at the end {os.getloadavg()[0]:.1f}")
        print()
        print(summary(rows))
    return 0 if all(not r["problems"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
