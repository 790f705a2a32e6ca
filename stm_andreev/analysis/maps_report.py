"""The grids among a report's inputs: analysed as maps, results stored with each grid, map
figures and a section for report.md and summary.json."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .maps_cube import is_grid_file, open_grid

log = logging.getLogger(__name__)


def is_grid_input(item: Any) -> bool:
    """A path naming a grid (a grid run file or a .3ds)."""
    return isinstance(item, str | Path) and Path(item).is_file() and is_grid_file(item)


def report_grids(paths: list[str | Path], out_dir: Path, *, T_K: float | None = None,
                 Vmod_rms_V: float | None = None, scheduler: Any = None
                 ) -> tuple[list[str], dict[str, Any]]:
    """Analyse each grid, store its results and draw its figures into ``out_dir``.
    Returns (Markdown lines, {grid path: summary}) for the report."""
    from .maps import analyze_map
    from .maps_figures import map_summary, write_map_figures
    from .maps_store import write_map_results

    lines: list[str] = []
    summaries: dict[str, Any] = {}
    for path in paths:
        results = analyze_map(open_grid(path), scheduler=scheduler, T_K=T_K,
                              Vmod_rms_V=Vmod_rms_V)
        stored = write_map_results(results, path)
        written = write_map_figures(results, out_dir, prefix=f"map_{Path(path).stem}")
        summary = map_summary(results)
        summaries[str(path)] = {**summary, "results_file": str(stored),
                                "figures": [p.name for p in written if p.suffix == ".png"]}
        ny, nx = results.sizes["y"], results.sizes["x"]
        lines += ["", f"## Map: {Path(path).name}", "",
                  f"{ny} x {nx} pixels analysed on {results.attrs.get('scheduler')}; results "
                  f"in `{stored.name}` (`/entry/results/map`). Values of pixels graded good "
                  "only (median ± spread); poor, failed and not-applicable pixels counted.", "",
                  "| quantity | median | spread | good | poor | failed | n/a |",
                  "|---|---|---|---|---|---|---|"]
        for q, (f, unit) in {"E_g": (1e6, "µeV"), "Delta_c": (1e6, "µeV"),
                             "Gamma": (1e6, "µeV"), "Z": (1.0, ""),
                             "G_N": (1e6, "µS")}.items():
            s = summary[q]
            med = "–" if s["median_good"] is None else f"{s['median_good'] * f:.4g} {unit}"
            spread = "–" if s["spread_good"] is None else f"{s['spread_good'] * f:.2g} {unit}"
            lines.append(f"| {q} | {med} | {spread} | {s['good']} | {s['poor']} | "
                         f"{s['failed']} | {s['not_applicable']} |")
        lines += [""] + [f"![{p.name}]({p.name})" for p in written if p.suffix == ".png"]
    return lines, summaries
