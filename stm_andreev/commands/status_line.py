"""One status line redrawn in place on stderr that log records step around.

A progress display rewrites its line with ``\\r``; a log record written to the same stream in
between (a WARNING mid-run) would be glued onto the line's tail. While a :class:`StatusLine` is
open it filters every root handler writing to its stream: before a record is written the line is
wiped, so the record starts at column 0, and the next :meth:`show` draws the line below it.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO


class StatusLine:
    """A line of at most ``width`` characters on ``stream`` (default: sys.stderr)."""

    def __init__(self, stream: TextIO | None = None, width: int = 119) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._shown = ""  # the text on screen now, "" when nothing of it is there
        self._lock = threading.Lock()  # records may come from other threads than show()
        self._handlers = [
            h for h in logging.getLogger().handlers
            if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is self.stream
        ]
        for handler in self._handlers:
            handler.addFilter(self._before_log)

    def show(self, text: str) -> None:
        with self._lock:
            self._shown = text[:self.width].ljust(self.width)
            self.stream.write("\r" + self._shown)
            self.stream.flush()

    def _before_log(self, record: logging.LogRecord) -> bool:
        """Handler filter: wipe the line before the record is written; never drops a record."""
        with self._lock:
            if self._shown:
                self.stream.write("\r" + " " * len(self._shown) + "\r")
                self.stream.flush()
                self._shown = ""
        return True

    def close(self) -> None:
        """End the line (newline if it is on screen) and let go of the log handlers."""
        for handler in self._handlers:
            handler.removeFilter(self._before_log)
        with self._lock:
            if self._shown:
                self.stream.write("\n")
                self.stream.flush()
                self._shown = ""
