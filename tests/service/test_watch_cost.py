"""What watching a run costs: the service, its streams and the GUI's queue follower do their
work once per change, not once per poll or per client, and still hand out the current data."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

pytest.importorskip("fastapi")

from stm_andreev.gui.runfile import RunFollower  # noqa: E402
from stm_andreev.service import core  # noqa: E402
from stm_andreev.service.core import StationService  # noqa: E402
from stm_andreev.service.queue_store import QueueItem, RunQueue  # noqa: E402
from stm_andreev.service.streaming import event_stream  # noqa: E402
from tests.gui.physics_runs import append, create_run, plan_rows  # noqa: E402

N_BIAS = 41


@pytest.fixture
def growing(tmp_path):
    """A run file being written: (path, writer, rows, bias); closed as aborted at the end."""
    rows = plan_rows(n_setpoints=4, temperatures_K=(0.065, 1.0))
    writer = create_run(tmp_path / "grow.h5", len(rows), n_bias=N_BIAS)
    bias = np.linspace(-1.5e-3, 1.5e-3, N_BIAS)
    yield tmp_path / "grow.h5", writer, rows, bias
    writer.close("aborted")


def _events(chunks: list[str]) -> list[tuple[str, dict]]:
    out = []
    for chunk in chunks:
        head, _, data = chunk.partition("\ndata: ")
        out.append((head.removeprefix("event: "), json.loads(data)))
    return out


def test_streams_send_each_new_spectrum_and_its_rows_once(service_for, growing):
    """The curve is encoded once for every client; each client still gets the newest
    spectrum, exactly the rows it has not seen, and nothing twice."""
    path, writer, rows, bias = growing
    service = service_for()
    service.monitor.follow(path)
    append(writer, 0, rows[0], bias)
    service.monitor.poll()

    async def two_clients():
        async def never():
            return False
        streams = [event_stream(service, never, tick_s=0.001) for _ in range(2)]
        got: list[list[tuple[str, dict]]] = [[], []]

        async def take(k: int, n: int) -> None:
            for _ in range(n):
                got[k].extend(_events([await streams[k].__anext__()]))

        for k in range(2):  # series, status, spectrum of row 0
            await take(k, 3)
        append(writer, 1, rows[1], bias)
        append(writer, 2, rows[2], bias)
        service.monitor.poll()  # two rows in one poll: the newest is sent, both rows' summaries
        for k in range(2):
            await take(k, 2)  # status, spectrum
        append(writer, 3, rows[3], bias)
        service.monitor.poll()
        for k in range(2):
            await take(k, 2)
        for s in streams:
            await s.aclose()
        return got

    got = asyncio.run(two_clients())
    for events in got:
        spectra = [d for kind, d in events if kind == "spectrum"]
        assert [s["row"] for s in spectra] == [0, 2, 3]
        series = next(d for kind, d in events if kind == "series")
        seen = [r["point_index"] for r in series["rows"]]
        for s in spectra:
            seen += [r["point_index"] for r in s["new_rows"]]
        assert seen == [0, 1, 2, 3]  # every row once, in order
        last = spectra[-1]
        assert np.allclose(last["bias_V"], bias)
        assert last["G_G0"] == service.monitor.spectrum["G_G0"]
        assert last["summary"]["point_index"] == 3
    assert got[0] == got[1]


def test_status_text_is_built_once_for_all_streams_and_follows_changes(service_for,
                                                                       monkeypatch):
    service = service_for()
    clock = [100.0]
    monkeypatch.setattr(core.time, "monotonic", lambda: clock[0])
    calls = []
    status = service.status
    monkeypatch.setattr(service, "status", lambda: calls.append(1) or status())
    first = service.status_text()
    assert [service.status_text() for _ in range(5)] == [first] * 5
    assert len(calls) == 1
    with service.supervisor.lock:
        service.supervisor.queue.hold = "held for the test"
    clock[0] += 2 * core.STATUS_TEXT_S
    assert json.loads(service.status_text())["queue_hold"] == "held for the test"
    assert len(calls) == 2


def test_follower_rereads_the_event_log_only_when_it_grew(growing):
    path, writer, rows, bias = growing
    follower = RunFollower(path)
    try:
        follower.poll_status()
        reader = follower._reader
        reads = []
        events = reader.events
        reader.events = lambda: reads.append(1) or events()
        n0 = len(follower.events)
        for k in range(3):
            append(writer, k, rows[k], bias)
            follower.poll()
            follower.poll_status()
        assert reads == []  # spectra came, no event: the log was not read again
        writer.log_event("pause", "paused for the test", time_s=5.0, point_index=2)
        follower.poll_status()
        assert len(reads) == 1
        assert len(follower.events) == n0 + 1
        assert follower.events[-1].message == "paused for the test"
        follower.poll()
        assert len(reads) == 1
    finally:
        follower.close()


def test_a_followed_queue_is_parsed_only_when_its_file_changed(tmp_path, monkeypatch):
    owner = RunQueue(tmp_path / "queue.json")
    owner.add(_item("a", tmp_path))
    follower = RunQueue(tmp_path / "queue.json")
    held = follower.items[0]
    parses = []
    loads = json.loads
    monkeypatch.setattr("stm_andreev.service.queue_store.json.loads",
                        lambda text: parses.append(1) or loads(text))
    assert follower.reload() is False
    assert follower.reload() is False
    assert parses == []
    owner.items[0].state = "running"
    owner.items[0].pid = 4242
    owner.save()
    assert follower.reload() is True
    assert len(parses) == 1
    assert held.state == "running" and held.pid == 4242  # updated in place, as load() does
    assert follower.reload() is False
    assert len(parses) == 1


def _item(name: str, tmp_path) -> QueueItem:
    return QueueItem(id=name, plan_name=name, plan_text=f"name: {name}\n", station="simulated",
                     out_dir=str(tmp_path / "runs" / name))


@pytest.fixture
def service_for(supervisor):
    made = []

    def make() -> StationService:
        made.append(StationService(supervisor))
        return made[-1]

    yield make
    for s in made:
        s.monitor.close()
