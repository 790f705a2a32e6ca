"""Benchmark the simulator transports and the lab's model cache; prints ratios, asserts nothing.

    python bench/bench_simulators.py [--calls 2000] [--repeats 7]

(a) pymeasure ``SR830.xy`` through the in-process EmulatorAdapter vs the emulator's
    ``handle_line("SNAP? 1,2")`` called directly (target <= 3x);
(b) the same query over loopback TCP (LineServer) vs a bare socket echo round trip measured in
    the same run (target <= 2x): once with a bare socket client (the server's own overhead) and
    once with pymeasure over pyvisa-py (what a driver sees);
(c) full-spectrum model evaluations (``lab.model_evaluations``) for the first lock-in read
    after a change of temperature / contact / tip position (target <= 1) and for later reads
    at the same state (target 0).

Each figure is the median over ``--repeats`` runs of ``--calls`` calls.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from collections.abc import Callable

from pymeasure.instruments.srs import SR830

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.emulators.srs import SR830Emulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter
from stm_andreev.simulators.transports.tcp import LineServer

QUERY = "SNAP? 1,2"


def per_call_s(
    actions: dict[str, Callable[[], object]], calls: int, repeats: int
) -> dict[str, float]:
    """Median over ``repeats`` of the mean wall time of one call of each action.

    The actions take turns within every repeat, so a busy spell on the shared machine hits
    all of them alike instead of skewing one ratio.
    """
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            for _ in range(calls):
                action()
            samples[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def new_lab() -> VirtualLab:
    lab = VirtualLab("InO-2", clock=VirtualClock(), seed=0)
    lab.bias_V = 1e-3
    lab.lockin.amplitude_Vrms = 0.1
    return lab


def bench_inprocess(calls: int, repeats: int) -> None:
    lab = new_lab()
    emulator = SR830Emulator(lab)
    lockin = SR830(EmulatorAdapter(emulator, clock=lab.clock))
    lockin.xy  # noqa: B018 - warm the model cache so both sides read a cached state
    t = per_call_s({"direct": lambda: emulator.handle_line(QUERY), "adapter": lambda: lockin.xy},
                   calls, repeats)
    direct, adapter = t["direct"], t["adapter"]
    print(f"(a) in-process  SR830.xy {adapter * 1e6:8.1f} us   handle_line {direct * 1e6:8.1f} us"
          f"   ratio {adapter / direct:5.2f}  (target <= 3)")


def echo_server(listener: socket.socket, stop: threading.Event) -> None:
    conn, _ = listener.accept()
    with conn:
        while not stop.is_set():
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)


def round_trip(sock: socket.socket, message: bytes) -> bytes:
    sock.sendall(message)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("server hung up")
        reply += chunk
    return reply


class ConstantEmulator:
    """A line instrument that answers every line at once with the same SNAP?-sized reply.

    It isolates the TCP server's own overhead from the emulator's work in (b).
    """

    name = "constant"
    REPLY = "1.234567e-03,-5.000000e-04\n"

    def handle_line(self, line: str) -> str:
        return self.REPLY

    def reset(self) -> None:
        """Nothing to forget."""

    def connected(self) -> None:
        """Nothing to do."""


class TimedEmulator:
    """Wraps an emulator and adds up the time spent inside it (as seen by the server thread)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0
        self.total_s = 0.0

    def handle_line(self, line: str) -> str:
        start = time.perf_counter()
        try:
            return self.inner.handle_line(line)
        finally:
            self.total_s += time.perf_counter() - start
            self.calls += 1

    def reset(self) -> None:
        self.inner.reset()

    def connected(self) -> None:
        self.inner.connected()


def connected_socket(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def bench_tcp(calls: int, repeats: int) -> None:
    message = (QUERY + "\n").encode()
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    echo_thread = threading.Thread(target=echo_server, args=(listener, stop), daemon=True)
    echo_thread.start()
    echo = connected_socket(listener.getsockname())

    lab = new_lab()
    emulator = SR830Emulator(lab)
    timed = TimedEmulator(emulator)
    with LineServer(ConstantEmulator()) as constant, LineServer(timed) as server:
        plain = connected_socket(constant.address)
        bare = connected_socket(server.address)
        lockin = SR830(server.visa_address, visa_library="@py", read_termination="\n",
                       timeout=5000)
        try:
            lockin.xy  # noqa: B018 - warm up the connection and the model cache
            timed.calls, timed.total_s = 0, 0.0
            t = per_call_s({
                "echo": lambda: round_trip(echo, message),
                "constant": lambda: round_trip(plain, message),
                "bare": lambda: round_trip(bare, message),
                "direct": lambda: emulator.handle_line(QUERY),
                "visa": lambda: lockin.xy,
            }, calls, repeats)
            # mean time inside the emulator per query, over the bare and the pyvisa calls
            t["inside"] = timed.total_s / timed.calls
        finally:
            lockin.adapter.close()
            bare.close()
            plain.close()
    stop.set()
    echo.close()
    listener.close()
    echo_thread.join(5)
    t_echo, t_constant, t_bare, t_visa, t_direct, t_inside = (
        t[k] for k in ("echo", "constant", "bare", "visa", "direct", "inside"))
    print(f"(b) TCP echo round trip (bare socket server)   {t_echo * 1e6:8.1f} us")
    print(f"    LineServer, constant reply                 {t_constant * 1e6:8.1f} us   "
          f"ratio {t_constant / t_echo:5.2f}  (target <= 2: the server's own overhead)")
    print(f"    LineServer, SR830 emulator, bare socket    {t_bare * 1e6:8.1f} us   "
          f"ratio {t_bare / t_echo:5.2f}  (the emulator's own work included)")
    print(f"      of which inside the emulator {t_inside * 1e6:.1f} us (called directly: "
          f"{t_direct * 1e6:.1f} us), so the transport's share is "
          f"{(t_bare - t_inside) * 1e6:.1f} us = {(t_bare - t_inside) / t_echo:5.2f} x echo")
    print(f"    SR830.xy via pymeasure + pyvisa-py         {t_visa * 1e6:8.1f} us   "
          f"ratio {t_visa / t_echo:5.2f}  (client library overhead included)")


def bench_model_cache() -> None:
    lab = new_lab()
    lockin = SR830(EmulatorAdapter(SR830Emulator(lab), clock=lab.clock))
    lockin.xy  # noqa: B018

    def reads_after(change: Callable[[], None]) -> tuple[int, int]:
        change()
        before = lab.model_evaluations
        lockin.xy  # noqa: B018
        first = lab.model_evaluations - before
        before = lab.model_evaluations
        for _ in range(20):
            lockin.xy  # noqa: B018
        return first, lab.model_evaluations - before

    changes: dict[str, Callable[[], None]] = {
        "temperature (spike +50 mK)": lambda: spike_and_wait(lab),
        "contact (z 20 pm closer)": lambda: change_contact(lab),
        "tip position (10 nm)": lambda: lab.move_tip(10e-9, 0.0),
        "bias (nothing else)": lambda: setattr(lab, "bias_V", 2e-3),
    }
    for label, change in changes.items():
        first, later = reads_after(change)
        print(f"(c) after {label:<28} first read {first} evaluation(s) (target <= 1), "
              f"20 later reads {later} (target 0)")


def spike_and_wait(lab: VirtualLab) -> None:
    """A mixing-chamber burp, then 30 s of lab time so the film has warmed."""
    lab.fridge.spike(0.05, 600.0)
    lab.clock.sleep(30.0)
    lab.advance()


def change_contact(lab: VirtualLab) -> None:
    lab.feedback_on = False
    lab.z_m = lab.z_m - 20e-12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    bench_inprocess(args.calls, args.repeats)
    bench_tcp(max(args.calls // 4, 50), args.repeats)
    bench_model_cache()


if __name__ == "__main__":
    main()
