"""GUI process for the real-X-server test: follow a live run, take a screenshot mid-run.

    python -m tests.gui.xvfb_live_child RUN_FILE OUT_PNG MIN_ROWS [--window]

Run with DISPLAY set to an X server (Xvfb) and QT_QPA_PLATFORM=xcb. Follows RUN_FILE (being
written by ``stm-andreev run``) in the live spectra view (``--window``: in the whole main
window, as ``stm-andreev gui --attach`` shows it) until MIN_ROWS spectra are in while the run
is still going, draws, saves OUT_PNG, and prints one JSON line: the Qt platform, the row the
header names, whether the drawn curve is that row of the file, and the run status then.
"""

from __future__ import annotations

import json
import re
import sys
import time

import numpy as np
from PyQt5 import QtWidgets

from stm_andreev.gui.spectra_view import LiveSpectraWidget
from stm_andreev.storage import RunReader

LIMIT_S = 120.0


def main() -> None:
    run_file, out_png, min_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = QtWidgets.QApplication(["stm-andreev"])
    gui = None
    if "--window" in sys.argv:
        from stm_andreev.gui.app import GuiOptions, build_gui

        gui = build_gui(GuiOptions(attach=run_file, runs=str(run_file.rsplit("/", 1)[0])))
        window = gui.window
        window.show_tab("Live spectra")
        view = window.spectra
        window.resize(1600, 1000)
    else:
        view = window = LiveSpectraWidget(interval_ms=50)
        view.follow(run_file)
        window.resize(1400, 900)
    window.show()
    deadline = time.monotonic() + LIMIT_S
    while view.model.n < min_rows and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    view.timer.stop()
    view._redraw()
    app.processEvents()
    status = view.follower.status
    window.grab().save(out_png)
    header = view.gap_text.text()
    row = int(re.search(r"row (\d+)", header).group(1))
    _, drawn = view.current_curve.getData()
    with RunReader(run_file) as reader:
        match = bool(np.array_equal(drawn, reader.spectrum(row).G_G0))
        differs_from_row_0 = not np.allclose(drawn, reader.spectrum(0).G_G0)
    print(json.dumps({"platform": app.platformName(), "row": row, "n": view.model.n,
                      "status": status, "curve_is_header_row": match,
                      "differs_from_row_0": differs_from_row_0}), flush=True)
    view.close_run()
    if gui is not None:
        gui.close()


if __name__ == "__main__":
    main()
