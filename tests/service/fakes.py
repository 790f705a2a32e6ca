"""A launcher whose "processes" the test ends by hand: the supervisor's logic without waiting
on real runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stm_andreev.service.launcher import LaunchError
from stm_andreev.service.queue_store import QueueItem


@dataclass
class FakeHandle:
    out_dir: Path
    pid: int
    running: bool = True
    code: int | None = None
    process: object | None = field(default=None)

    def alive(self) -> bool:
        return self.running

    def returncode(self) -> int | None:
        return self.code

    def run_file(self) -> Path | None:
        return None

    def log_tail(self, n_chars: int = 2000) -> str:
        return "boom: the fake run failed\n"

    def end(self, code: int) -> None:
        self.running, self.code = False, code


class FakeLauncher:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.handles: dict[str, FakeHandle] = {}
        self.live_pids: set[int] = set()
        self.fail_start = False

    def start(self, item: QueueItem) -> FakeHandle:
        if self.fail_start:
            raise LaunchError("cannot start the fake run")
        self.started.append(item.id)
        handle = FakeHandle(Path(item.out_dir), pid=1000 + len(self.started))
        self.handles[item.id] = handle
        self.live_pids.add(handle.pid)
        return handle

    def attach(self, item: QueueItem) -> FakeHandle:
        handle = FakeHandle(Path(item.out_dir), pid=item.pid,
                            running=item.pid in self.live_pids)
        self.handles[item.id] = handle
        return handle

    def end(self, item_id: str, code: int = 0) -> None:
        handle = self.handles[item_id]
        handle.end(code)
        self.live_pids.discard(handle.pid)
