"""Regenerate docs/figures: the paper's figures from simulated dry runs, through the real stack.

    python docs/make_paper_figures.py [--out docs/figures] [--work DIR]

Runs, each with ``stm-andreev run`` on the simulated station with the sample swapped:
  * InO-2, the default plan (Figs. 1, 2a, 2b, 2c and S2);
  * InO-1, InO-2, InO-3, a position survey each (Fig. 3: Delta_c against E_g over positions
    and samples);
  * InO-4, a setpoint sweep (Fig. S5: plain-BTK spectra with their fits, no in-gap peaks);
then one report over all run files.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "configs" / "simulated.yaml"

SURVEY = """
name: survey-{sample}
kind: position_survey
temperature_K: 0.065
grid: {{x0: -150.0e-9, x1: 150.0e-9, nx: 3, y0: -150.0e-9, y1: 150.0e-9, ny: 3}}
low_setpoint_A: 2.0e-9
high_setpoint_A: 1.0e-6
n_bias: 301
settle_s: 0.05
integration_s: 0.05
"""

INO4_SWEEP = """
name: btk-InO-4
kind: setpoint_sweep
temperature_K: 0.065
I_start_A: 1.0e-9
I_stop_A: 1.0e-6
n_setpoints: 7
bias_start_V: -2.0e-3
bias_stop_V: 2.0e-3
n_bias: 301
settle_s: 0.05
integration_s: 0.05
"""


def station_for(sample: str, work: Path) -> Path:
    text = STATION.read_text().replace("sample: InO-2", f"sample: {sample}")
    path = work / f"station-{sample}.yaml"
    path.write_text(text)
    return path


def run(plan: Path | str, station: Path, out: Path) -> Path:
    before = set(out.glob("*.h5"))
    subprocess.run(
        [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--station", str(station),
         "--out", str(out), "--no-report", "--quiet"],
        check=True,
    )
    (new,) = set(out.glob("*.h5")) - before
    return new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="stm-andreev-figures-"))
    runs = work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    files = [run("paper-inO2", station_for("InO-2", work), runs)]
    for sample in ("InO-1", "InO-2", "InO-3"):
        plan = work / f"survey-{sample}.yaml"
        plan.write_text(SURVEY.format(sample=sample))
        files.append(run(plan, station_for(sample, work), runs))
    plan = work / "btk-InO-4.yaml"
    plan.write_text(INO4_SWEEP)
    files.append(run(plan, station_for("InO-4", work), runs))

    from stm_andreev.analysis.report import write_report

    report = write_report(files, args.out)
    print(f"report: {report}\nrun files in {runs}")


if __name__ == "__main__":
    main()
