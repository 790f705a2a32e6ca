"""The queue's rules with a fake launcher: order, one plan at a time, holds, skip, retry,
stop after current, re-attach after a restart, one service per queue."""

from __future__ import annotations

import json

import pytest

from stm_andreev.service.queue_store import RunQueue, queue_owned
from stm_andreev.service.supervisor import (
    HOLD_STOP,
    QueueRequestError,
    StationBusyError,
    Supervisor,
)

from .conftest import plan_named
from .fakes import FakeLauncher


def _states(sup):
    return [(i.plan_name, i.state) for i in sup.queue.items]


def test_plans_start_in_order_one_at_a_time(supervisor, launcher):
    a, b, c = (supervisor.add(plan_named(n)) for n in "abc")
    supervisor.step()
    supervisor.step()
    assert launcher.started == [a.id]
    launcher.end(a.id, 0)
    supervisor.step()
    assert launcher.started == [a.id, b.id]
    launcher.end(b.id, 0)
    supervisor.step()
    launcher.end(c.id, 0)
    supervisor.step()
    assert launcher.started == [a.id, b.id, c.id]
    assert _states(supervisor) == [("a", "finished"), ("b", "finished"), ("c", "finished")]


def test_a_failed_plan_holds_the_queue_until_skipped(supervisor, launcher):
    a, b = supervisor.add(plan_named("a")), supervisor.add(plan_named("b"))
    supervisor.step()
    launcher.end(a.id, 1)
    supervisor.step()
    supervisor.step()
    assert launcher.started == [a.id]
    assert a.state == "failed" and "boom" in a.message
    assert "skip or retry" in supervisor.queue.hold
    supervisor.skip(a.id)
    supervisor.step()
    assert launcher.started == [a.id, b.id]
    assert a.state == "failed" and "skipped" in a.message


def test_retry_runs_a_fresh_copy_first_and_keeps_the_failure_on_record(supervisor, launcher):
    a, b = supervisor.add(plan_named("a")), supervisor.add(plan_named("b"))
    supervisor.step()
    launcher.end(a.id, 1)
    supervisor.step()
    copy = supervisor.retry(a.id)
    supervisor.step()
    assert launcher.started == [a.id, copy.id]
    assert copy.out_dir != a.out_dir and copy.plan_text == a.plan_text
    assert [i.id for i in supervisor.queue.items] == [a.id, copy.id, b.id]
    with pytest.raises(QueueRequestError, match="only a failed or aborted"):
        supervisor.retry(b.id)


def test_continue_on_failure_goes_on(tmp_path, launcher):
    sup = Supervisor(RunQueue(tmp_path / "q.json"), launcher, runs_dir=tmp_path,
                     continue_on_failure=True)
    a, b = sup.add(plan_named("a")), sup.add(plan_named("b"))
    sup.step()
    launcher.end(a.id, 1)
    sup.step()
    assert launcher.started == [a.id, b.id] and sup.queue.hold == ""


def test_a_plan_that_cannot_start_is_failed_not_retried(supervisor, launcher):
    a = supervisor.add(plan_named("a"))
    launcher.fail_start = True
    supervisor.step()
    supervisor.step()
    assert a.state == "failed" and "cannot start" in a.message
    assert "failed to start" in supervisor.queue.hold


def test_stop_after_current_then_resume(supervisor, launcher):
    a, b = supervisor.add(plan_named("a")), supervisor.add(plan_named("b"))
    supervisor.step()
    supervisor.stop_after_current()
    launcher.end(a.id, 0)
    supervisor.step()
    assert launcher.started == [a.id] and supervisor.queue.hold == HOLD_STOP
    supervisor.resume_queue()
    supervisor.step()
    assert launcher.started == [a.id, b.id]


def test_restarted_supervisor_reattaches_and_never_starts_a_plan_twice(tmp_path):
    launcher = FakeLauncher()
    first = Supervisor(RunQueue(tmp_path / "q.json"), launcher, runs_dir=tmp_path)
    first.acquire()
    a, b = first.add(plan_named("a")), first.add(plan_named("b"))
    first.step()
    first.release()  # the service dies; the fake run goes on
    second = Supervisor(RunQueue(tmp_path / "q.json"), launcher, runs_dir=tmp_path)
    second.acquire()
    try:
        assert second.item is not None and second.item.id == a.id
        second.step()
        assert launcher.started == [a.id]  # still running: nothing new started
        launcher.end(a.id, 0)
        second.step()
        assert launcher.started == [a.id, b.id]
        assert [i.state for i in second.queue.items] == ["finished", "running"]
    finally:
        second.release()


def test_a_run_found_dead_after_a_restart_is_failed_and_holds(tmp_path):
    launcher = FakeLauncher()
    first = Supervisor(RunQueue(tmp_path / "q.json"), launcher, runs_dir=tmp_path)
    first.acquire()
    a, _ = first.add(plan_named("a")), first.add(plan_named("b"))
    first.step()
    first.release()
    launcher.live_pids.clear()  # the run died while no service watched it
    second = Supervisor(RunQueue(tmp_path / "q.json"), launcher, runs_dir=tmp_path)
    second.acquire()
    try:
        second.step()
        assert launcher.started == [a.id]
        assert second.queue.get(a.id).state == "failed"
        assert "run --resume" not in second.queue.get(a.id).message  # no run file to resume
    finally:
        second.release()


def test_a_second_service_on_the_same_queue_is_refused(supervisor, tmp_path, launcher):
    other = Supervisor(RunQueue(tmp_path / "queue.json"), launcher, runs_dir=tmp_path)
    with pytest.raises(StationBusyError, match="already owns"):
        other.acquire()
    assert queue_owned(tmp_path / "queue.json")
    supervisor.release()
    assert not queue_owned(tmp_path / "queue.json")


def test_queue_edits_persist_with_the_hold(supervisor):
    a, b, c = (supervisor.add(plan_named(n)) for n in "abc")
    supervisor.move(c.id, 0)
    supervisor.edit(b.id, plan_named("b2"), None)
    supervisor.stop_after_current()
    supervisor.remove(a.id)
    reopened = RunQueue(supervisor.queue.path)
    assert [(i.plan_name) for i in reopened.items] == ["c", "b2"]
    assert reopened.hold == HOLD_STOP


def test_queue_file_from_before_pids_and_holds_still_loads(tmp_path):
    path = tmp_path / "queue.json"
    path.write_text(json.dumps({"format": 1, "items": [
        {"plan_name": "p", "plan_text": "", "station": "s", "out_dir": "/o", "id": "x",
         "state": "queued", "run_path": "", "message": ""}]}))
    queue = RunQueue(path)
    assert queue.items[0].pid == 0 and queue.hold == ""


def test_running_items_cannot_be_edited_moved_or_removed(supervisor):
    a = supervisor.add(plan_named("a"))
    supervisor.step()
    for call in (lambda: supervisor.remove(a.id), lambda: supervisor.move(a.id, 0),
                 lambda: supervisor.edit(a.id, plan_named("z"), None)):
        with pytest.raises(QueueRequestError):
            call()
    with pytest.raises(LookupError):
        supervisor.remove("nope")


def test_a_failure_during_a_pending_stop_shows_the_failure(supervisor, launcher):
    a = supervisor.add(plan_named("a"))
    supervisor.add(plan_named("b"))
    supervisor.step()
    supervisor.stop_after_current()
    assert "after the running plan" in supervisor.queue.hold
    launcher.end(a.id, 2)
    supervisor.step()
    assert "a (" in supervisor.queue.hold and "failed" in supervisor.queue.hold
    assert launcher.started == [a.id]


def test_a_failed_runs_message_keeps_its_error_and_the_problems_it_names():
    from stm_andreev.service.supervisor import failure_message

    tail = ("12:00:01 INFO starting\nError: Cannot read configuration file /x/lab.yaml "
            "(1 problem):\n  (top level): file not found\n")
    assert failure_message(tail) == ("Error: Cannot read configuration file /x/lab.yaml "
                                     "(1 problem): (top level): file not found")
    assert failure_message("just the last line\nKilled\n") == "Killed"
    assert "without a final status" in failure_message("")
