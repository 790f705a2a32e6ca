"""End to end with real processes: ``stm-andreev serve`` runs a queue of three short plans on
the simulated station (virtual clock) in order, each file complete; killed mid-plan (SIGKILL)
the run goes on, and a restarted service finds it, follows it and starts the next plan after
it; no plan runs twice."""

from __future__ import annotations

import pytest

pytest.importorskip("uvicorn")

from stm_andreev.service.client import ServiceClient, ServiceError  # noqa: E402
from stm_andreev.storage import RunReader  # noqa: E402

from .serving import Served, pid_alive, sweep_plan  # noqa: E402

pytestmark = pytest.mark.slow


def _check_each_file_complete_and_in_order(served: Served, names: list[str]) -> None:
    queue = served.get("/api/queue")
    assert [i["plan_name"] for i in queue] == names
    assert [i["state"] for i in queue] == ["finished"] * len(names)
    starts = []
    for item in queue:
        files = sorted(served.runs.glob(f"{item['plan_name']}-*/*.h5"))
        assert len(files) == 1, f"{item['plan_name']} ran {len(files)} times"  # never twice
        assert str(files[0]) == item["run_path"]
        # one run process per plan: each appends its summary to the folder's run.log
        run_log = (files[0].parent / "run.log").read_text()
        assert run_log.count("run file:") == 1, run_log
        with RunReader(files[0]) as reader:
            assert reader.status == "finished"
            assert reader.n_spectra == reader.metadata["n_planned"]
            starts.append(reader.metadata["start_time"])
            ends = reader.metadata["end_time"]
        starts.append(ends)
    assert starts == sorted(starts), "plans overlapped or ran out of order"
    assert len(list(served.runs.glob("*/*.h5"))) == len(names)


def test_a_queue_of_three_runs_in_order_without_a_gui(tmp_path):
    served = Served(tmp_path).start()
    try:
        names = ["first", "second", "third"]
        for name in names:
            served.post("/api/queue", {"plan_text": sweep_plan(name)})
        served.wait_for(lambda s: s["queue_counts"] == {"finished": 3}, "three finished plans")
        _check_each_file_complete_and_in_order(served, names)
    finally:
        served.stop()


def test_killed_service_leaves_the_run_going_and_a_restart_carries_on(tmp_path):
    served = Served(tmp_path).start()
    names = ["before", "during", "after"]
    try:
        served.post("/api/queue", {"plan_text": sweep_plan("before")})
        served.post("/api/queue", {"plan_text": sweep_plan("during", n=60, n_bias=401)})
        served.post("/api/queue", {"plan_text": sweep_plan("after")})
        # Paused once a spectrum is stored (the run's control channel is open by then), so
        # the kill lands mid-plan whatever the machine's speed.
        served.wait_for(lambda s: (s["current"] or {}).get("plan_name") == "during"
                        and s["run"].get("plan") == "during" and s["run"]["done"] >= 1,
                        "the second plan's first spectrum")
        served.post("/api/run/pause")
        status = served.wait_for(lambda s: s["run"]["status"] == "paused", "the pause")
        run_pid = status["current"]["pid"]
        served.kill()
        assert pid_alive(run_pid), "killing the service stopped the run"

        restarted = Served(tmp_path).start()
        served = restarted
        status = served.get("/api/status")
        assert status["current"]["plan_name"] == "during" and status["current"]["pid"] == run_pid
        served.wait_for(lambda s: s["run"].get("plan") == "during", "the re-attached run file")
        assert [i["state"] for i in served.get("/api/queue")] == ["finished", "running",
                                                                   "queued"]
        served.post("/api/run/resume")
        served.wait_for(lambda s: s["queue_counts"] == {"finished": 3}, "three finished plans")
        assert not pid_alive(run_pid)
        _check_each_file_complete_and_in_order(served, names)
    finally:
        served.stop()


def test_a_second_service_is_refused_and_the_gui_client_finds_the_first(tmp_path):
    served = Served(tmp_path).start()
    try:
        with pytest.raises(RuntimeError, match="already owns the queue"):
            Served(tmp_path).start()
        client = ServiceClient.find(served.queue)
        assert client is not None and client.url == served.url
        with pytest.raises(ServiceError, match="plan refused"):
            client.add("name: x\nsteps: []")
        served.post("/api/queue-control/stop-after-current")  # nothing is started here
        added = client.add(sweep_plan("from-gui"))
        assert [i["id"] for i in served.get("/api/queue")] == [added["id"]]
        with pytest.raises(ServiceError, match="no running plan"):
            client.command("pause")
    finally:
        served.stop()
    assert ServiceClient.find(served.queue) is None  # the GUI runs the queue alone again
