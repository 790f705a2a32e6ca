"""What `stm-andreev gui` prints: where the screenshot went, and none of Qt's benign noise."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from PyQt5 import QtCore


def test_screenshot_prints_its_path_and_no_qt_noise(tmp_path, physics_run):
    png = tmp_path / "shot.png"
    # As on a fresh machine: no desktop session, so no XDG_RUNTIME_DIR.
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run(
        [sys.executable, "-m", "stm_andreev.cli", "gui", "--attach", str(physics_run),
         "--screenshot", str(png), "--queue", str(tmp_path / "q.json"), "--runs",
         str(tmp_path), "--timeout", "60"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"screenshot saved: {png}\n"
    assert png.stat().st_size > 10_000
    for noise in ("XDG_RUNTIME_DIR", "propagateSizeHints", "QStandardPaths"):
        assert noise not in result.stderr, result.stderr


def test_benign_qt_messages_go_to_debug_logging_others_stay_warnings(caplog, capfd,
                                                                      monkeypatch):
    from stm_andreev.gui.qt_messages import quiet_qt

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    with caplog.at_level(logging.DEBUG, logger="stm_andreev.qt"), quiet_qt():
        runtime = os.environ["XDG_RUNTIME_DIR"]
        assert os.stat(runtime).st_mode & 0o777 == 0o700
        QtCore.qWarning(b"This plugin does not support propagateSizeHints()")
        QtCore.qWarning(b"QStandardPaths: XDG_RUNTIME_DIR not set, defaulting to '/tmp/x'")
        QtCore.qWarning(b"something Qt really wants to say")
    assert "XDG_RUNTIME_DIR" not in os.environ and not os.path.exists(runtime)
    levels = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "stm_andreev.qt"]
    assert levels == [
        (logging.DEBUG, "This plugin does not support propagateSizeHints()"),
        (logging.DEBUG, "QStandardPaths: XDG_RUNTIME_DIR not set, defaulting to '/tmp/x'"),
        (logging.WARNING, "something Qt really wants to say"),
    ]
    assert "propagateSizeHints" not in capfd.readouterr().err
