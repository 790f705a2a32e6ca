"""Server-sent events: the status, each new spectrum and the per-spectrum summaries, pushed.

One generator per client. It looks at the monitor's snapshots every ``tick_s`` (no file access:
the service's loop alone reads the run file, so clients add nothing to the run's disk load)
and sends only what changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

#: How often a stream looks for news (s); with the loop's 0.2 s poll a spectrum reaches a
#: client within ~0.3 s of being stored.
TICK_S = 0.1
#: A comment line this often keeps proxies and phones from closing an idle stream (s).
KEEPALIVE_S = 15.0


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def event_stream(service, disconnected: Callable[[], Any], *, tick_s: float = TICK_S,
                       max_events: int | None = None) -> AsyncIterator[str]:
    """Yield SSE text: ``status`` on change, ``series`` (all summaries of the followed run) on
    connect and when the run changes, ``spectrum`` (latest curve + its summary) per new one.

    ``max_events`` ends the stream after that many events (tests and the bench)."""
    monitor = service.monitor
    last_status = ""
    last_seq = -1
    last_path = object()
    sent_rows = 0
    sent = 0
    idle = 0.0
    while max_events is None or sent < max_events:
        if await disconnected():
            return
        out: list[str] = []
        if monitor.path != last_path:
            last_path = monitor.path
            series = monitor.series
            sent_rows = len(series)
            out.append(sse("series", {"run_file": None if last_path is None else str(last_path),
                                      "rows": series}))
        status = service.status_text()
        if status != last_status:
            last_status = status
            out.append(f"event: status\ndata: {status}\n\n")
        if monitor.spectrum_seq != last_seq:
            last_seq = monitor.spectrum_seq
            # The monitor swaps in the series before the spectrum: read in this order, the
            # rows are never older than the spectrum.
            spectrum = monitor.spectrum_json
            series = monitor.series
            if spectrum:
                # the curve was encoded once for all clients; only the rows are this client's
                rows = json.dumps(series[sent_rows:], separators=(",", ":"))
                out.append(f"event: spectrum\ndata: {spectrum[:-1]},\"new_rows\":{rows}}}\n\n")
                sent_rows = len(series)
        for chunk in out:
            yield chunk
            sent += 1
            if max_events is not None and sent >= max_events:
                return
        if out:
            idle = 0.0
        else:
            idle += tick_s
            if idle >= KEEPALIVE_S:
                idle = 0.0
                yield ": keep-alive\n\n"
        await asyncio.sleep(tick_s)
