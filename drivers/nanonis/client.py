"""Driver for the Nanonis SPM controller over its binary TCP protocol.

:class:`NanonisController` satisfies :class:`stm_andreev.drivers.interfaces.FeedbackController`.
It is a thin map from lab-named methods to the commands in :mod:`.commands`; it validates every
argument before anything is sent (never silent clipping) and has no policy: no waits beyond the
controller's own, no retries except reconnecting a dropped link.

One instance owns one connection (one controller port); its methods may be called from several
threads, each command being one locked request/reply exchange. A long command (a bias sweep)
blocks its port, so stopping it needs a second instance on another port (6501-6504).
"""

from __future__ import annotations

import logging
import math
import re
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .codec import HEADER_BYTES
from .commands import check_echo, get_command
from .errors import (
    NanonisConnectionError,
    NanonisError,
    NanonisProtocolError,
    NanonisTimeout,
    NanonisValueError,
)

log = logging.getLogger(__name__)

BIAS_LIMIT_V = 10.0
SETPOINT_LIMIT_A = 1e-5
Z_LIMIT_M = 1e-5
XY_LIMIT_M = 1e-3
MODULATOR_COUNT = 8
MAX_MODULATION_V = 10.0
MAX_MODULATION_HZ = 1e5
MAX_SPECTRUM_POINTS = 100_000
DEFAULT_SPECTRUM_CHANNELS: tuple[str, ...] = (
    "Current (A)",
    "LI Demod 1 X (A)",
    "LI Demod 1 Y (A)",
    "Z (m)",
)


class SocketLike(Protocol):
    """What the driver needs of a connection: a socket or an in-process stand-in."""

    def sendall(self, data: bytes) -> Any: ...

    def recv(self, n: int) -> bytes: ...

    def settimeout(self, timeout: float | None) -> Any: ...

    def close(self) -> Any: ...


SocketFactory = Callable[[str, int, float], SocketLike]


def tcp_socket_factory(host: str, port: int, timeout_s: float) -> SocketLike:
    """Open a TCP connection (the default factory)."""
    sock = socket.create_connection((host, port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _LinkDropped(Exception):
    """Internal: the peer closed or reset the connection (worth one reconnect)."""


_GAIN_PATTERN = re.compile(r"(?:(\d+(?:\.\d*)?)\s*[x*]\s*)?10\^\s*(-?\d+)")


def parse_gain_V_per_A(label: str) -> float:
    """Read a preamp gain label such as ``"10^8"``, ``"LN 10^9"`` or ``"1E8"`` in V/A.

    Raises :class:`NanonisProtocolError` if the label holds no gain.
    """
    match = _GAIN_PATTERN.search(label)
    if match:
        mantissa = float(match.group(1)) if match.group(1) else 1.0
        return mantissa * 10.0 ** int(match.group(2))
    for token in label.replace("V/A", " ").split():
        try:
            return float(token)
        except ValueError:
            continue
    raise NanonisProtocolError(f"cannot read a gain from the label {label!r}")


def _check_range(label: str, value: float, low: float, high: float, unit: str) -> float:
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise NanonisValueError(f"{label} {value!r} {unit} outside [{low:g}, {high:g}] {unit}")
    return value


#: Longest settling or integration time per point of a bias sweep the driver sets (s).
MAX_POINT_TIME_S = 10.0


class NanonisController:
    """Nanonis SPM controller on one TCP port.

    ``socket_factory(host, port, timeout_s)`` returns a connected socket-like object (default:
    a TCP connection), so an in-process transport can connect the driver straight to an
    emulator. ``timeout_s`` bounds the silence while waiting for a reply (s, > 0); commands
    that run long on the controller extend it by their expected duration. A dropped link is
    re-opened up to ``reconnect_attempts`` times per command (the command is then sent again;
    every command the driver uses is safe to repeat), after which
    :class:`NanonisConnectionError` is raised.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6501,
        *,
        timeout_s: float = 5.0,
        socket_factory: SocketFactory | None = None,
        reconnect_attempts: int = 2,
    ) -> None:
        if not timeout_s > 0:
            raise NanonisValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if reconnect_attempts < 0:
            raise NanonisValueError(f"reconnect_attempts must be >= 0, got {reconnect_attempts}")
        self.host = host
        self.port = int(port)
        self.timeout_s = float(timeout_s)
        self.reconnect_attempts = int(reconnect_attempts)
        self._factory: SocketFactory = socket_factory or tcp_socket_factory
        self._lock = threading.RLock()
        self._sock: SocketLike | None = None
        self._signal_names: list[str] | None = None
        with self._lock:
            try:
                self._connect()
            except _LinkDropped as exc:
                raise NanonisConnectionError(
                    f"cannot connect to the Nanonis controller at {self.host}:{self.port}: {exc}"
                ) from exc

    # --- connection ----------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"NanonisController({self.host!r}, {self.port})"

    def __enter__(self) -> NanonisController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (a later command reconnects)."""
        with self._lock:
            self._drop()

    def _connect(self) -> None:
        try:
            self._sock = self._factory(self.host, self.port, self.timeout_s)
        except OSError as exc:
            raise _LinkDropped(f"connect failed: {exc}") from exc
        log.debug("connected to Nanonis at %s:%d", self.host, self.port)

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                log.debug("error closing the Nanonis socket", exc_info=True)

    def _recv_exact(self, n: int, what: str) -> bytes:
        assert self._sock is not None
        chunks: list[bytes] = []
        got = 0
        while got < n:
            try:
                chunk = self._sock.recv(n - got)
            except TimeoutError:
                raise
            except OSError as exc:
                raise _LinkDropped(f"{what}: {exc}") from exc
            if not chunk:
                raise _LinkDropped(f"{what}: connection closed by the controller after {got} bytes")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _exchange(self, name: str, frame: bytes, timeout_s: float) -> bytes:
        """Send one request frame, return the reply body (echo checked)."""
        assert self._sock is not None
        try:
            self._sock.settimeout(timeout_s)
            # Header and body in one write, so the request never sits half-sent between
            # packets while the controller waits for its body.
            self._sock.sendall(frame)
        except TimeoutError as exc:
            raise NanonisTimeout(f"{name}: sending timed out after {timeout_s:g} s") from exc
        except OSError as exc:
            raise _LinkDropped(f"{name}: send failed: {exc}") from exc
        try:
            header = self._recv_exact(HEADER_BYTES, f"{name} reply header")
            check_echo(name, header)
            body_size = int.from_bytes(header[32:36], "big", signed=True)
            return self._recv_exact(body_size, f"{name} reply body")
        except TimeoutError as exc:
            raise NanonisTimeout(
                f"{name}: no complete reply from {self.host}:{self.port} within {timeout_s:g} s"
            ) from exc

    def query(self, command: str, *args: Any, timeout_s: float | None = None) -> dict[str, Any]:
        """Send ``command`` with ``args`` (wire order) and return its values by field name.

        Raises :class:`NanonisCommandError` when the controller reports an error,
        :class:`NanonisTimeout`, :class:`NanonisProtocolError` or
        :class:`NanonisConnectionError`.
        """
        spec = get_command(command)
        frame = spec.encode_request(*args)
        wait_s = self.timeout_s if timeout_s is None else float(timeout_s)
        with self._lock:
            failures: list[str] = []
            while True:
                try:
                    if self._sock is None:
                        self._connect()
                    body = self._exchange(command, frame, wait_s)
                    break
                except _LinkDropped as exc:
                    self._drop()
                    failures.append(str(exc))
                    if len(failures) > self.reconnect_attempts:
                        raise NanonisConnectionError(
                            f"{command}: connection to {self.host}:{self.port} lost; "
                            f"{len(failures)} tries failed (last: {exc})"
                        ) from exc
                    log.warning("Nanonis link dropped (%s); reconnecting", exc)
                except (NanonisTimeout, NanonisProtocolError):
                    # The stream is out of step (a late or garbled reply may follow): start
                    # the next command on a fresh connection.
                    self._drop()
                    raise
            try:
                return spec.decode_reply_body(body)
            except NanonisProtocolError:
                self._drop()
                raise

    # --- bias and current ----------------------------------------------------------------

    def set_bias(self, bias_V: float) -> None:
        """Set the tip-sample bias in V (-10 to 10)."""
        self.query("Bias.Set", _check_range("bias", bias_V, -BIAS_LIMIT_V, BIAS_LIMIT_V, "V"))

    def get_bias(self) -> float:
        """Get the tip-sample bias in V."""
        return float(self.query("Bias.Get")["bias_V"])

    def get_current(self) -> float:
        """Measure the tunnel current in A."""
        return float(self.query("Current.Get")["current_A"])

    def current_gains(self) -> tuple[list[float], int]:
        """Get the selectable preamp gains in V/A and the index of the active one."""
        reply = self.query("Current.GainsGet")
        return [parse_gain_V_per_A(g) for g in reply["gains"]], int(reply["gain_index"])

    def get_current_gain(self) -> float:
        """Get the active preamp gain in V/A."""
        gains, index = self.current_gains()
        if not 0 <= index < len(gains):
            raise NanonisProtocolError(f"gain index {index} outside the {len(gains)} gains")
        return gains[index]

    def set_current_gain(self, gain_V_per_A: float) -> None:
        """Set the preamp gain in V/A; must be one of :meth:`current_gains` (e.g. 1e5-1e9)."""
        gains, _ = self.current_gains()
        for index, gain in enumerate(gains):
            if math.isclose(gain, gain_V_per_A, rel_tol=1e-6):
                self.query("Current.GainSet", index, -1)
                return
        raise NanonisValueError(
            f"gain {gain_V_per_A!r} V/A is not selectable; choose one of "
            + ", ".join(f"{g:.0e}" for g in gains)
        )

    # --- Z controller --------------------------------------------------------------------

    def set_feedback(self, on: bool) -> None:
        """Switch the Z (current) feedback controller on or off."""
        self.query("ZCtrl.OnOffSet", 1 if on else 0)

    def get_feedback(self) -> bool:
        """Get whether the Z feedback controller is on."""
        return bool(self.query("ZCtrl.OnOffGet")["on"])

    def set_setpoint(self, current_A: float) -> None:
        """Set the current setpoint in A (non-zero, |I| <= 10 uA; sign follows the bias)."""
        value = _check_range("setpoint", current_A, -SETPOINT_LIMIT_A, SETPOINT_LIMIT_A, "A")
        if value == 0.0:
            raise NanonisValueError("setpoint 0 A: the log-current feedback needs |I| > 0")
        self.query("ZCtrl.SetpntSet", value)

    def get_setpoint(self) -> float:
        """Get the current setpoint in A."""
        return float(self.query("ZCtrl.SetpntGet")["setpoint"])

    def get_z(self) -> float:
        """Measure the tip height (Z piezo position) in m."""
        return float(self.query("ZCtrl.ZPosGet")["z_m"])

    def set_z(self, z_m: float) -> None:
        """Set the tip height in m (|z| <= 10 um); the controller refuses while feedback is on."""
        self.query("ZCtrl.ZPosSet", _check_range("z", z_m, -Z_LIMIT_M, Z_LIMIT_M, "m"))

    def withdraw(self, timeout_s: float = 10.0) -> None:
        """Switch the feedback off and retract the tip to the upper Z limit; wait up to
        ``timeout_s`` s (0 < timeout_s <= 600) for the controller to finish."""
        timeout_s = _check_range("withdraw timeout", timeout_s, 1e-3, 600.0, "s")
        self.query(
            "ZCtrl.Withdraw", 1, int(round(timeout_s * 1000)), timeout_s=timeout_s + self.timeout_s
        )

    def home(self) -> None:
        """Move the tip to its home Z position (feedback off)."""
        self.query("ZCtrl.Home")

    def set_z_limits(self, low_m: float, high_m: float) -> None:
        """Set the Z piezo limits in m (low < high, both within +-10 um)."""
        low = _check_range("low Z limit", low_m, -Z_LIMIT_M, Z_LIMIT_M, "m")
        high = _check_range("high Z limit", high_m, -Z_LIMIT_M, Z_LIMIT_M, "m")
        if not low < high:
            raise NanonisValueError(f"low Z limit {low} m must be below the high limit {high} m")
        self.query("ZCtrl.LimitsSet", high, low)

    def get_z_limits(self) -> tuple[float, float]:
        """Get the Z piezo limits (low, high) in m."""
        reply = self.query("ZCtrl.LimitsGet")
        return float(reply["low_m"]), float(reply["high_m"])

    def set_feedback_gains(self, P: float, time_constant_s: float, I: float) -> None:  # noqa: N803
        """Set the Z controller gains: P in m (per decade of current, > 0), time constant in s
        (> 0) and I in m/s (> 0); the controller holds I = P / time constant."""
        for label, value in (("P gain", P), ("time constant", time_constant_s), ("I gain", I)):
            _check_range(label, value, 1e-30, 1e30, "")
        self.query("ZCtrl.GainSet", float(P), float(time_constant_s), float(I))

    def get_feedback_gains(self) -> tuple[float, float, float]:
        """Get the Z controller gains (P in m, time constant in s, I in m/s)."""
        reply = self.query("ZCtrl.GainGet")
        return float(reply["p_gain"]), float(reply["time_constant_s"]), float(reply["i_gain"])

    def feedback_status(self) -> int:
        """Get the Z-controller status: 1 off, 2 on, 3 hold, 4 switching off,
        5 safe-tip event, 6 withdrawing."""
        return int(self.query("ZCtrl.StatusGet")["status"])

    # --- tip position --------------------------------------------------------------------

    def set_tip_position(self, x_m: float, y_m: float, wait: bool = True) -> None:
        """Move the tip laterally to (x, y) in m (each within +-1 mm); with ``wait`` return
        when it arrives."""
        x = _check_range("tip x", x_m, -XY_LIMIT_M, XY_LIMIT_M, "m")
        y = _check_range("tip y", y_m, -XY_LIMIT_M, XY_LIMIT_M, "m")
        self.query("FolMe.XYPosSet", x, y, 1 if wait else 0)

    def get_tip_position(self) -> tuple[float, float]:
        """Measure the tip's lateral position (x, y) in m."""
        reply = self.query("FolMe.XYPosGet", 1)
        return float(reply["x_m"]), float(reply["y_m"])

    # --- signals -------------------------------------------------------------------------

    def signal_names(self, refresh: bool = False) -> list[str]:
        """Get the controller's signal names (index = position in the list); cached."""
        if self._signal_names is None or refresh:
            self._signal_names = list(self.query("Signals.NamesGet")["names"])
        return list(self._signal_names)

    def signal_index(self, signal: str | int) -> int:
        """Resolve a signal name such as ``"Current (A)"`` (or an index) to its index."""
        names = self.signal_names()
        if isinstance(signal, int):
            if not 0 <= signal < len(names):
                raise NanonisValueError(f"signal index {signal} outside 0-{len(names) - 1}")
            return signal
        try:
            return names.index(signal)
        except ValueError:
            raise NanonisValueError(
                f"unknown signal {signal!r}; the controller has: {', '.join(names)}"
            ) from None

    def signal_value(self, signal: str | int, wait_newest: bool = True) -> float:
        """Measure one signal (by name or index) in its physical unit."""
        reply = self.query("Signals.ValGet", self.signal_index(signal), 1 if wait_newest else 0)
        return float(reply["value"])

    # --- lock-in modulator ---------------------------------------------------------------

    @staticmethod
    def _modulator(modulator: int) -> int:
        if not 1 <= int(modulator) <= MODULATOR_COUNT:
            raise NanonisValueError(f"modulator {modulator} outside 1-{MODULATOR_COUNT}")
        return int(modulator)

    def set_modulation(self, on: bool, modulator: int = 1) -> None:
        """Switch the internal lock-in modulator (1-8) on or off."""
        self.query("LockIn.ModOnOffSet", self._modulator(modulator), 1 if on else 0)

    def get_modulation(self, modulator: int = 1) -> bool:
        """Get whether the internal lock-in modulator (1-8) is on."""
        return bool(self.query("LockIn.ModOnOffGet", self._modulator(modulator))["on"])

    def set_modulation_amplitude(self, amplitude_V: float, modulator: int = 1) -> None:
        """Set the bias modulation amplitude in V rms at the junction (0-10 V)."""
        value = _check_range("modulation amplitude", amplitude_V, 0.0, MAX_MODULATION_V, "V")
        self.query("LockIn.ModAmpSet", self._modulator(modulator), value)

    def get_modulation_amplitude(self, modulator: int = 1) -> float:
        """Get the bias modulation amplitude in V rms."""
        return float(self.query("LockIn.ModAmpGet", self._modulator(modulator))["amplitude"])

    def set_modulation_frequency(self, frequency_Hz: float, modulator: int = 1) -> None:
        """Set the modulation frequency in Hz (0 < f <= 100 kHz)."""
        value = _check_range("modulation frequency", frequency_Hz, 1e-3, MAX_MODULATION_HZ, "Hz")
        self.query("LockIn.ModPhasFreqSet", self._modulator(modulator), value)

    def get_modulation_frequency(self, modulator: int = 1) -> float:
        """Get the modulation frequency in Hz."""
        reply = self.query("LockIn.ModPhasFreqGet", self._modulator(modulator))
        return float(reply["frequency_Hz"])

    # --- snapshot ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Get the controller's settings for a run file (SI units in the key names)."""
        p_gain, time_constant_s, i_gain = self.get_feedback_gains()
        low_m, high_m = self.get_z_limits()
        x_m, y_m = self.get_tip_position()
        start_V, stop_V = self.get_spectroscopy_limits()
        return {
            "bias_V": self.get_bias(),
            "setpoint_A": self.get_setpoint(),
            "feedback_on": self.get_feedback(),
            "feedback_status": self.feedback_status(),
            "feedback_P_m": p_gain,
            "feedback_time_constant_s": time_constant_s,
            "feedback_I_m_per_s": i_gain,
            "z_m": self.get_z(),
            "z_limits_m": (low_m, high_m),
            "tip_xy_m": (x_m, y_m),
            "current_gain_V_per_A": self.get_current_gain(),
            "modulation_on": self.get_modulation(),
            "modulation_V": self.get_modulation_amplitude(),
            "modulation_Hz": self.get_modulation_frequency(),
            "spectroscopy_limits_V": (start_V, stop_V),
            "spectroscopy_timing": self.get_spectroscopy_timing(),
        }

    # --- bias spectroscopy ---------------------------------------------------------------

    def open_bias_spectroscopy(self) -> None:
        """Open the controller's Bias Spectroscopy module (needed before a sweep)."""
        self.query("BiasSpectr.Open")

    def set_spectroscopy_limits(self, start_V: float, stop_V: float) -> None:
        """Set the sweep's first and last bias in V (each -10 to 10)."""
        start = _check_range("sweep start", start_V, -BIAS_LIMIT_V, BIAS_LIMIT_V, "V")
        stop = _check_range("sweep stop", stop_V, -BIAS_LIMIT_V, BIAS_LIMIT_V, "V")
        self.query("BiasSpectr.LimitsSet", start, stop)

    def get_spectroscopy_limits(self) -> tuple[float, float]:
        """Get the sweep's (start, stop) bias in V."""
        reply = self.query("BiasSpectr.LimitsGet")
        return float(reply["start_V"]), float(reply["end_V"])

    def set_spectroscopy_props(
        self, n_points: int, n_sweeps: int = 1, backward: bool = False, z_offset_m: float = 0.0
    ) -> None:
        """Set points per sweep (2-100000), sweeps to average (1-1000), whether to add a
        backward sweep, and the Z offset in m applied before the sweep (|dz| <= 10 um).
        Autosave and the save dialog are switched off."""
        if not 2 <= int(n_points) <= MAX_SPECTRUM_POINTS:
            raise NanonisValueError(f"n_points {n_points} outside 2-{MAX_SPECTRUM_POINTS}")
        if not 1 <= int(n_sweeps) <= 1000:
            raise NanonisValueError(f"n_sweeps {n_sweeps} outside 1-1000")
        dz = _check_range("Z offset", z_offset_m, -Z_LIMIT_M, Z_LIMIT_M, "m")
        # Flags: 0 keeps, 1 switches on, 2 switches off.
        self.query(
            "BiasSpectr.PropsSet", 0, int(n_sweeps), 1 if backward else 2, int(n_points), dz, 2, 2
        )

    def get_spectroscopy_timing(self) -> dict[str, float]:
        """Get the eight sweep timing values (s, m and V/s) by name."""
        return {k: float(v) for k, v in self.query("BiasSpectr.TimingGet").items()}

    def set_spectroscopy_timing(
        self, settle_s: float, integration_s: float, **others: float
    ) -> None:
        """Set the settling time before each point and the integration time per point in s
        (each 0-10 s); other timing fields (``initial_settling_s``, ``end_settling_s``,
        ``z_averaging_s``, ``z_offset_m``, ``max_slew_V_per_s``, ``z_control_s``) may be given
        by name, the rest keep their present values."""
        timing = self.get_spectroscopy_timing()
        unknown = set(others) - set(timing)
        if unknown:
            raise NanonisValueError(
                f"unknown timing fields {sorted(unknown)}; known: {sorted(timing)}"
            )
        timing.update({k: float(v) for k, v in others.items()})
        timing["settling_s"] = _check_range("settling time", settle_s, 0.0,
                                            MAX_POINT_TIME_S, "s")
        timing["integration_s"] = _check_range("integration time", integration_s, 0.0,
                                               MAX_POINT_TIME_S, "s")
        self.query("BiasSpectr.TimingSet", *timing.values())

    def set_spectroscopy_channels(self, channels: Sequence[str | int]) -> None:
        """Select the signals (names or indexes) recorded at each sweep point."""
        indexes = [self.signal_index(ch) for ch in channels]
        self.query("BiasSpectr.ChsSet", indexes)

    def get_spectroscopy_channels(self) -> list[str]:
        """Get the names of the signals recorded at each sweep point."""
        return list(self.query("BiasSpectr.ChsGet")["channel_names"])

    def start_bias_spectroscopy(
        self, base_name: str = "", timeout_s: float | None = None
    ) -> dict[str, np.ndarray]:
        """Run the configured sweep on the controller and return channel name -> data.

        Blocks until the controller finishes (or another port sends
        :meth:`stop_bias_spectroscopy`); ``timeout_s`` bounds the wait (default: the
        connection timeout).
        """
        reply = self.query("BiasSpectr.Start", 1, base_name, timeout_s=timeout_s)
        names = list(reply["channel_names"])
        data = np.asarray(reply["data"], dtype=np.float64)
        if data.shape[0] != len(names) and data.ndim == 2 and data.shape[1] == len(names):
            data = data.T  # points in rows: some controller versions lay it out that way
        if data.shape[0] != len(names):
            raise NanonisProtocolError(
                f"BiasSpectr.Start: {len(names)} channel names but data of shape {data.shape}"
            )
        return {name: data[k].copy() for k, name in enumerate(names)}

    def stop_bias_spectroscopy(self) -> None:
        """Stop a running sweep (send it on a port other than the one running the sweep)."""
        self.query("BiasSpectr.Stop")

    def bias_spectroscopy_running(self) -> bool:
        """Get whether a bias sweep is running."""
        return bool(self.query("BiasSpectr.StatusGet")["running"])

    def bias_spectroscopy(
        self,
        start_V: float,
        stop_V: float,
        n_points: int,
        settle_s: float,
        integration_s: float,
        channels: Sequence[str | int] | None = None,
        **timing: float,
    ) -> dict[str, np.ndarray]:
        """Configure and run one controller-side bias sweep.

        ``start_V``/``stop_V`` in V (-10 to 10), ``n_points`` 2-100000, ``settle_s`` and
        ``integration_s`` per point in s (0-10). ``channels`` are signal names or indexes
        (default: current, lock-in X and Y, Z); ``timing`` other timing fields by name
        (``initial_settling_s``, ``end_settling_s``, ... as in
        :meth:`set_spectroscopy_timing`; the rest keep their values). Returns channel name
        -> array of ``n_points`` values, including the swept bias (first entry).
        """
        chosen = list(DEFAULT_SPECTRUM_CHANNELS if channels is None else channels)
        self.open_bias_spectroscopy()
        self.set_spectroscopy_channels(chosen)
        self.set_spectroscopy_limits(start_V, stop_V)
        self.set_spectroscopy_props(n_points)
        self.set_spectroscopy_timing(settle_s, integration_s, **timing)
        timing = self.get_spectroscopy_timing()
        expected_s = (
            timing["initial_settling_s"]
            + timing["end_settling_s"]
            + n_points * (timing["settling_s"] + timing["integration_s"])
        )
        return self.start_bias_spectroscopy(timeout_s=self.timeout_s + expected_s)


__all__ = [
    "DEFAULT_SPECTRUM_CHANNELS",
    "NanonisController",
    "NanonisError",
    "SocketLike",
    "parse_gain_V_per_A",
    "tcp_socket_factory",
]
