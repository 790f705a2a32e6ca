"""Qt's own console messages: the known-benign ones go to debug logging, the rest to logging.

Qt writes some warnings straight to stderr that tell a lab user nothing they can act on: that
``XDG_RUNTIME_DIR`` is unset (Qt then picks ``/tmp/runtime-<user>`` itself), and, on the
offscreen and some X11 window managers, that the platform plugin "does not support
propagateSizeHints()". :func:`quiet_qt` avoids the first (a private runtime folder, as a
desktop session would provide) and routes every Qt message through :mod:`logging`, with the
benign ones at debug level (``stm-andreev -vv gui`` still shows them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator

from PyQt5 import QtCore

log = logging.getLogger("stm_andreev.qt")

#: Substrings of Qt messages that are harmless for this application.
BENIGN = (
    "XDG_RUNTIME_DIR",
    "propagateSizeHints",
)

_LEVELS = {
    QtCore.QtDebugMsg: logging.DEBUG,
    QtCore.QtInfoMsg: logging.INFO,
    QtCore.QtWarningMsg: logging.WARNING,
    QtCore.QtCriticalMsg: logging.ERROR,
    QtCore.QtFatalMsg: logging.CRITICAL,
}


def qt_message_handler(mode: int, context: QtCore.QMessageLogContext, message: str) -> None:
    """Installed with ``qInstallMessageHandler``: one log record per Qt message."""
    level = _LEVELS.get(mode, logging.WARNING)
    if any(text in message for text in BENIGN):
        level = logging.DEBUG
    log.log(level, "%s", message)


@contextlib.contextmanager
def quiet_qt() -> Iterator[None]:
    """For the life of the GUI: a private XDG runtime folder if none is set, Qt messages logged."""
    with contextlib.ExitStack() as stack:
        if not os.environ.get("XDG_RUNTIME_DIR"):
            # Qt wants a folder owned by the user with mode 0700; mkdtemp makes exactly that.
            runtime = stack.enter_context(tempfile.TemporaryDirectory(prefix="stm-andreev-xdg-"))
            os.environ["XDG_RUNTIME_DIR"] = runtime
            stack.callback(os.environ.pop, "XDG_RUNTIME_DIR", None)
        previous = QtCore.qInstallMessageHandler(qt_message_handler)
        stack.callback(QtCore.qInstallMessageHandler, previous)
        yield
