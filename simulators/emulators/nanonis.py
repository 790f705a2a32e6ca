"""Emulator of the Nanonis SPM controller's TCP interface over the :class:`VirtualLab`.

It speaks the binary protocol of docs/protocols.md section 1 through the same codec and command
table as the driver (:mod:`stm_andreev.drivers.nanonis.commands`), so every command in that
table is served here, and the vendor's ``nanonis_spm.Nanonis`` client works against it.

Like the real controller it answers every request that asks for a reply, also the bad ones:
an unknown command or a body of the wrong size gets an error block naming the problem, and a
refused command (``ZCtrl.ZPosSet`` while the Z controller is on, a bias beyond +-10 V) gets
its return values zeroed followed by an error block with status 1.

Thread-safety: the TCP server serves four ports concurrently. Every command runs under
``lab.lock`` except the long ones (``BiasSpectr.Start``, ``ZCtrl.Withdraw`` with wait), which
take the lock per step and sleep on the lab's clock between steps, so ``BiasSpectr.Stop`` or
``BiasSpectr.StatusGet`` from another port is served while a sweep runs.

The internal lock-in channel ``LI Demod 1 X (A)`` is the demodulated current at the first
harmonic, G(V) * Vmod with G the smeared model dI/dV (S) and Vmod the rms junction modulation
(V), plus a seeded Gaussian noise of the current amplifier integrated over the integration
time; ``LI Demod 1 Y (A)`` carries noise only (the reference phase is aligned).

The analog inputs ``Input 1 (V)`` and ``Input 2 (V)`` are wired to the external lock-in's CH1
and CH2 outputs (the lab's ``lockin.analog_outputs_V()``: X and Y / sensitivity x 10 V when so
routed, clipped at 10.9 V), the usual set-up in which the controller times the sweep and the
SR830/SR860 demodulates. Within a sweep point both come from one lock-in reading at the point's
end, as X and Y of the internal demodulator come from one demodulation; the controller's
averaging over the integration time is not modelled for them (the lock-in's filter, longer
than the integration in practice, already sets their bandwidth).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stm_andreev.drivers.nanonis.codec import (
    HEADER_BYTES,
    NAME_BYTES,
    decode_request_header,
    encode_error_block,
)
from stm_andreev.drivers.nanonis.commands import COMMANDS, Command
from stm_andreev.drivers.nanonis.errors import NanonisError, NanonisProtocolError
from stm_andreev.simulators.lab.electronics import current_noise_density_A
from stm_andreev.simulators.lab.errors import LabError

log = logging.getLogger(__name__)

BIAS_LIMIT_V = 10.0
MAX_POINTS = 100_000
MAX_SWEEPS = 1000
MAX_TIMING_S = 3600.0
MODULATORS = range(1, 9)
# A sweep's lab-clock bound when ZCtrl.Withdraw is told to wait forever (timeout -1).
WITHDRAW_WAIT_LIMIT_S = 60.0
WITHDRAW_POLL_S = 0.01
CURRENT_FILTERS: tuple[str, ...] = ("0.3 kHz", "1 kHz", "3 kHz", "10 kHz", "30 kHz", "100 kHz")

# Values BiasSpectr.Start returns as its parameters array, in order.
SPECTRUM_PARAMETERS: tuple[str, ...] = (
    "Sweep start (V)",
    "Sweep end (V)",
    "Settling time (s)",
    "Integration time (s)",
    "Z offset (m)",
    "Sweeps completed",
)


class CommandRefused(Exception):
    """A command the emulated controller declines; its text becomes the error description."""


@dataclass
class _Modulator:
    on: bool = False
    amplitude_V: float = 1e-3
    frequency_Hz: float = 973.0


@dataclass
class _SpectroscopySettings:
    """The Bias Spectroscopy module's settings (lost on reset, like the controller's)."""

    open: bool = False
    start_V: float = -5e-3
    end_V: float = 5e-3
    n_points: int = 201
    n_sweeps: int = 1
    backward: bool = False
    z_offset_m: float = 0.0
    save_all: bool = False
    autosave: bool = False
    show_dialog: bool = False
    timing: dict[str, float] = field(
        default_factory=lambda: {
            "z_averaging_s": 0.1,
            "z_offset_m": 0.0,
            "initial_settling_s": 0.01,
            "max_slew_V_per_s": 1.0,
            "settling_s": 0.005,
            "integration_s": 0.02,
            "end_settling_s": 0.0,
            "z_control_s": 0.2,
        }
    )
    channel_indexes: list[int] = field(default_factory=lambda: [0])


class NanonisEmulator:
    """The Nanonis controller as a :class:`~stm_andreev.simulators.emulator.FrameEmulator`.

    ``lab`` is the :class:`~stm_andreev.simulators.lab.VirtualLab`; ``seed`` seeds the
    internal lock-in noise.
    """

    name = "nanonis"

    def __init__(self, lab: Any, *, seed: int = 0) -> None:
        self.lab = lab
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._running = threading.Event()
        self._stop = threading.Event()
        self._spectr = _SpectroscopySettings()
        self._modulators = {k: _Modulator() for k in MODULATORS}
        self._filter_index = 2
        self._signals: tuple[tuple[str, Callable[[], float]], ...] = (
            ("Current (A)", lambda: float(self.lab.measured_current_A())),
            ("Bias (V)", lambda: float(self.lab.bias_V)),
            ("Z (m)", lambda: float(self.lab.z_m)),
            ("LI Demod 1 X (A)", lambda: self._demodulated()[0]),
            ("LI Demod 1 Y (A)", lambda: self._demodulated()[1]),
            ("X (m)", lambda: float(self.lab.tip_xy_m[0])),
            ("Y (m)", lambda: float(self.lab.tip_xy_m[1])),
            ("Preamp output (V)", self._preamp_output_V),
            # Appended, so the indexes of the signals above stay what clients already use.
            ("Input 1 (V)", lambda: self.lab.lockin.analog_outputs_V()[0]),
            ("Input 2 (V)", lambda: self.lab.lockin.analog_outputs_V()[1]),
        )
        self.signal_names: tuple[str, ...] = tuple(name for name, _ in self._signals)
        # One handler per command of the shared table; a missing one fails here, not mid-run.
        self._handlers: dict[str, Callable[..., dict[str, Any] | None]] = {
            name: getattr(self, "_cmd_" + name.replace(".", "_")) for name in COMMANDS
        }

    # --- FrameEmulator -------------------------------------------------------------------

    def reset(self) -> None:
        """Power cycle: abort a sweep and forget every setting of the emulated software."""
        self._stop.set()
        with self.lab.lock:
            self._spectr = _SpectroscopySettings()
            self._modulators = {k: _Modulator() for k in MODULATORS}
            self._filter_index = 2
            self._rng = np.random.default_rng(self._seed)

    def connected(self) -> None:
        log.debug("client connected to the Nanonis emulator")

    def handle_frame(self, header: bytes, body: bytes) -> bytes:
        """Execute one request frame; return the reply frame (``b""`` if none was asked for)."""
        try:
            request = decode_request_header(header)
        except NanonisProtocolError as exc:
            log.warning("Nanonis emulator: bad request header: %s", exc)
            return _error_only_reply(header[:NAME_BYTES], f"Malformed request header: {exc}")
        name = request.command
        spec = COMMANDS.get(name)
        if len(body) != request.body_size:
            reply = self._refusal(
                spec, name, f"{name}: header announces {request.body_size} body bytes, "
                f"{len(body)} received"
            )
        elif spec is None:
            reply = _error_only_reply(
                name.encode("ascii"), f"{name}: unknown command (not supported by this server)"
            )
        else:
            reply = self._execute(spec, body)
        return reply if request.response else b""

    # --- dispatch ------------------------------------------------------------------------

    def _refusal(self, spec: Command | None, name: str, message: str) -> bytes:
        if spec is None:
            return _error_only_reply(name.encode("ascii"), message)
        return spec.encode_reply(None, error=message)

    def _execute(self, spec: Command, body: bytes) -> bytes:
        try:
            args = spec.decode_request_body(body)
        except NanonisProtocolError as exc:
            return self._refusal(spec, spec.name, f"{spec.name}: wrong arguments: {exc}")
        handler = self._handlers[spec.name]
        try:
            if spec.name in _LONG_COMMANDS:
                values = handler(**args)
            else:
                with self.lab.lock:
                    values = handler(**args)
            return spec.encode_reply(values or {})
        except (CommandRefused, LabError, NanonisError) as exc:
            return spec.encode_reply(None, error=f"{spec.name}: {exc}")
        except Exception as exc:  # noqa: BLE001
            # A server thread must answer, not die: the client sees the failure as an error
            # block, the log keeps the traceback.
            log.exception("Nanonis emulator failed on %s", spec.name)
            return spec.encode_reply(None, error=f"{spec.name}: internal error: {exc}")

    # --- signals -------------------------------------------------------------------------

    def _preamp_output_V(self) -> float:
        gain = self.lab.preamp_gains_V_per_A[self.lab.preamp_gain_index]
        return float(np.clip(self.lab.measured_current_A() * gain, -10.0, 10.0))

    def _demodulated(self, integration_s: float | None = None) -> tuple[float, float]:
        """Internal lock-in (X, Y) in A at the present bias; noise shrinks with integration."""
        mod = self._modulators[1]
        signal = 0.0
        if mod.on:
            signal = float(self.lab.true_dIdV_S(self.lab.bias_V)) * self.lab.lockin.modulation_Vrms
        t = self._spectr.timing["integration_s"] if integration_s is None else integration_s
        gain = self.lab.preamp_gains_V_per_A[self.lab.preamp_gain_index]
        # Preamp noise density at this current, over the demodulator's bandwidth 1/(2 t).
        density = current_noise_density_A(abs(self.lab.measured_current_A()), gain)
        sigma = density * math.sqrt(1.0 / (2.0 * max(t, 1e-4)))
        noise_x, noise_y = self._rng.normal(0.0, sigma, 2)
        return signal + float(noise_x), float(noise_y)

    def _read_signal(self, index: int) -> float:
        if not 0 <= index < len(self._signals):
            raise CommandRefused(f"signal index {index} outside 0-{len(self._signals) - 1}")
        return self._signals[index][1]()

    # --- bias and current ----------------------------------------------------------------

    def _cmd_Bias_Set(self, bias_V: float) -> None:
        if not abs(bias_V) <= BIAS_LIMIT_V:
            raise CommandRefused(f"bias {bias_V} V outside +-{BIAS_LIMIT_V} V")
        self.lab.bias_V = bias_V

    def _cmd_Bias_Get(self) -> dict[str, Any]:
        return {"bias_V": self.lab.bias_V}

    def _cmd_Current_Get(self) -> dict[str, Any]:
        return {"current_A": self.lab.measured_current_A()}

    def _cmd_Current_GainSet(self, gain_index: int, filter_index: int) -> None:
        gains = self.lab.preamp_gains_V_per_A
        if gain_index != -1:
            if not 0 <= gain_index < len(gains):
                raise CommandRefused(f"gain index {gain_index} outside 0-{len(gains) - 1}")
            self.lab.preamp_gain_index = gain_index
        if filter_index != -1:
            if not 0 <= filter_index < len(CURRENT_FILTERS):
                raise CommandRefused(
                    f"filter index {filter_index} outside 0-{len(CURRENT_FILTERS) - 1}"
                )
            self._filter_index = filter_index

    def _cmd_Current_GainsGet(self) -> dict[str, Any]:
        return {
            "gains": [_gain_label(g) for g in self.lab.preamp_gains_V_per_A],
            "gain_index": self.lab.preamp_gain_index,
            "filters": list(CURRENT_FILTERS),
            "filter_index": self._filter_index,
        }

    # --- Z controller --------------------------------------------------------------------

    def _cmd_ZCtrl_OnOffSet(self, on: int) -> None:
        self.lab.feedback_on = bool(on)

    def _cmd_ZCtrl_OnOffGet(self) -> dict[str, Any]:
        return {"on": int(bool(self.lab.feedback_on))}

    def _cmd_ZCtrl_SetpntSet(self, setpoint: float) -> None:
        self.lab.setpoint_A = setpoint

    def _cmd_ZCtrl_SetpntGet(self) -> dict[str, Any]:
        return {"setpoint": self.lab.setpoint_A}

    def _cmd_ZCtrl_ZPosSet(self, z_m: float) -> None:
        if self.lab.feedback_on:
            raise CommandRefused("the Z controller is on; switch it off before setting Z")
        self.lab.z_m = z_m

    def _cmd_ZCtrl_ZPosGet(self) -> dict[str, Any]:
        return {"z_m": self.lab.z_m}

    def _cmd_ZCtrl_Withdraw(self, wait: int, timeout_ms: int) -> None:
        with self.lab.lock:
            self.lab.withdraw()
        if not wait:
            return
        limit_s = WITHDRAW_WAIT_LIMIT_S if timeout_ms < 0 else timeout_ms / 1000.0
        clock = self.lab.clock
        deadline = clock.now() + limit_s
        while True:
            with self.lab.lock:
                withdrawing = self.lab.feedback_status() == 6
            if not withdrawing:
                return
            if clock.now() >= deadline:
                raise CommandRefused(f"tip still withdrawing after {limit_s:g} s")
            clock.sleep(WITHDRAW_POLL_S)

    def _cmd_ZCtrl_Home(self) -> None:
        self.lab.home()

    def _cmd_ZCtrl_GainSet(self, p_gain: float, time_constant_s: float, i_gain: float) -> None:
        self.lab.feedback_gains = (p_gain, time_constant_s, i_gain)

    def _cmd_ZCtrl_GainGet(self) -> dict[str, Any]:
        p_gain, time_constant_s, i_gain = self.lab.feedback_gains
        return {"p_gain": p_gain, "time_constant_s": time_constant_s, "i_gain": i_gain}

    def _cmd_ZCtrl_LimitsSet(self, high_m: float, low_m: float) -> None:
        if not low_m < high_m:
            raise CommandRefused(f"low limit {low_m} m must be below the high limit {high_m} m")
        self.lab.set_z_limits(low_m, high_m)

    def _cmd_ZCtrl_LimitsGet(self) -> dict[str, Any]:
        low_m, high_m = self.lab.z_limits_m
        return {"high_m": high_m, "low_m": low_m}

    def _cmd_ZCtrl_StatusGet(self) -> dict[str, Any]:
        return {"status": int(self.lab.feedback_status())}

    # --- tip position --------------------------------------------------------------------

    def _cmd_FolMe_XYPosSet(self, x_m: float, y_m: float, wait: int) -> None:
        if not (math.isfinite(x_m) and math.isfinite(y_m)):
            raise CommandRefused(f"tip target ({x_m}, {y_m}) m is not finite")
        self.lab.move_tip(x_m, y_m)

    def _cmd_FolMe_XYPosGet(self, wait: int) -> dict[str, Any]:
        x_m, y_m = self.lab.tip_xy_m
        return {"x_m": x_m, "y_m": y_m}

    # --- signals -------------------------------------------------------------------------

    def _cmd_Signals_NamesGet(self) -> dict[str, Any]:
        return {"names": list(self.signal_names)}

    def _cmd_Signals_ValGet(self, index: int, wait_newest: int) -> dict[str, Any]:
        return {"value": self._read_signal(index)}

    def _cmd_Signals_ValsGet(self, indexes: np.ndarray, wait_newest: int) -> dict[str, Any]:
        return {"values": [self._read_signal(int(k)) for k in indexes]}

    # --- lock-in modulator ---------------------------------------------------------------

    def _modulator(self, modulator: int) -> _Modulator:
        if modulator not in self._modulators:
            raise CommandRefused(f"modulator {modulator} outside 1-{len(self._modulators)}")
        return self._modulators[modulator]

    def _apply_modulation(self, modulator: int) -> None:
        """Modulator 1 drives the bias: its amplitude becomes the lab's junction modulation."""
        mod = self._modulators[modulator]
        if modulator == 1 and mod.on:
            self.lab.lockin.modulation_Vrms = mod.amplitude_V

    def _cmd_LockIn_ModOnOffSet(self, modulator: int, on: int) -> None:
        self._modulator(modulator).on = bool(on)
        self._apply_modulation(modulator)

    def _cmd_LockIn_ModOnOffGet(self, modulator: int) -> dict[str, Any]:
        return {"on": int(self._modulator(modulator).on)}

    def _cmd_LockIn_ModAmpSet(self, modulator: int, amplitude: float) -> None:
        if not 0.0 <= amplitude <= BIAS_LIMIT_V:
            raise CommandRefused(f"amplitude {amplitude} V outside 0-{BIAS_LIMIT_V} V")
        self._modulator(modulator).amplitude_V = amplitude
        self._apply_modulation(modulator)

    def _cmd_LockIn_ModAmpGet(self, modulator: int) -> dict[str, Any]:
        return {"amplitude": self._modulator(modulator).amplitude_V}

    def _cmd_LockIn_ModPhasFreqSet(self, modulator: int, frequency_Hz: float) -> None:
        if not 0.0 < frequency_Hz <= 1e5:
            raise CommandRefused(f"frequency {frequency_Hz} Hz outside (0, 100000] Hz")
        self._modulator(modulator).frequency_Hz = frequency_Hz
        if modulator == 1:
            self.lab.lockin.frequency_Hz = frequency_Hz

    def _cmd_LockIn_ModPhasFreqGet(self, modulator: int) -> dict[str, Any]:
        return {"frequency_Hz": self._modulator(modulator).frequency_Hz}

    # --- bias spectroscopy ---------------------------------------------------------------

    def _cmd_BiasSpectr_Open(self) -> None:
        self._spectr.open = True

    def _cmd_BiasSpectr_LimitsSet(self, start_V: float, end_V: float) -> None:
        for label, value in (("start", start_V), ("end", end_V)):
            if not abs(value) <= BIAS_LIMIT_V:
                raise CommandRefused(f"sweep {label} {value} V outside +-{BIAS_LIMIT_V} V")
        self._spectr.start_V, self._spectr.end_V = start_V, end_V

    def _cmd_BiasSpectr_LimitsGet(self) -> dict[str, Any]:
        return {"start_V": self._spectr.start_V, "end_V": self._spectr.end_V}

    def _cmd_BiasSpectr_PropsSet(
        self,
        save_all: int,
        n_sweeps: int,
        backward: int,
        n_points: int,
        z_offset_m: float,
        autosave: int,
        show_dialog: int,
    ) -> None:
        s = self._spectr
        if not (0 <= n_sweeps <= MAX_SWEEPS and (n_points == 0 or 2 <= n_points <= MAX_POINTS)):
            raise CommandRefused(
                f"sweeps {n_sweeps} (0 keeps, 1-{MAX_SWEEPS}) or points {n_points} "
                f"(0 keeps, 2-{MAX_POINTS}) out of range"
            )
        for flag in (save_all, backward, autosave, show_dialog):
            if flag not in (0, 1, 2):
                raise CommandRefused(f"flag {flag} is not 0 (no change), 1 (on) or 2 (off)")
        s.n_sweeps = n_sweeps or s.n_sweeps
        s.n_points = n_points or s.n_points
        s.z_offset_m = z_offset_m
        s.save_all = _flag(save_all, s.save_all)
        s.backward = _flag(backward, s.backward)
        s.autosave = _flag(autosave, s.autosave)
        s.show_dialog = _flag(show_dialog, s.show_dialog)

    def _cmd_BiasSpectr_TimingSet(self, **timing: float) -> None:
        for key, value in timing.items():
            low = -1.0 if key == "z_offset_m" else 0.0
            if not low <= value <= MAX_TIMING_S:
                raise CommandRefused(f"timing value {key} = {value} outside {low:g}-{MAX_TIMING_S:g}")
        self._spectr.timing = dict(timing)

    def _cmd_BiasSpectr_TimingGet(self) -> dict[str, Any]:
        return dict(self._spectr.timing)

    def _cmd_BiasSpectr_ChsSet(self, channel_indexes: np.ndarray) -> None:
        indexes = [int(k) for k in channel_indexes]
        bad = [k for k in indexes if not 0 <= k < len(self._signals)]
        if bad:
            raise CommandRefused(f"channel indexes {bad} outside 0-{len(self._signals) - 1}")
        self._spectr.channel_indexes = indexes

    def _cmd_BiasSpectr_ChsGet(self) -> dict[str, Any]:
        indexes = self._spectr.channel_indexes
        return {
            "channel_indexes": indexes,
            "channel_names": [self.signal_names[k] for k in indexes],
        }

    def _cmd_BiasSpectr_StatusGet(self) -> dict[str, Any]:
        return {"running": int(self._running.is_set())}

    def _cmd_BiasSpectr_Stop(self) -> None:
        self._stop.set()

    def _cmd_BiasSpectr_Start(self, get_data: int, base_name: str) -> dict[str, Any]:
        lab, clock = self.lab, self.lab.clock
        with lab.lock:
            s = self._spectr
            if not s.open:
                raise CommandRefused("the Bias Spectroscopy module is not open (BiasSpectr.Open)")
            if self._running.is_set():
                raise CommandRefused("a bias sweep is already running")
            self._running.set()
            self._stop.clear()
            timing = dict(s.timing)
            channels = list(s.channel_indexes)
            sweep = np.linspace(s.start_V, s.end_V, s.n_points)
            directions = [sweep, sweep[::-1]] if s.backward else [sweep]
            n_sweeps, z_offset_m = s.n_sweeps, s.z_offset_m
            start_V, end_V = s.start_V, s.end_V
            bias_before = lab.bias_V
            # The controller holds Z during the sweep (otherwise the feedback would crash the
            # tip at zero bias) and restores bias and feedback afterwards.
            feedback_before = bool(lab.feedback_on)
            lab.feedback_on = False
            z_before = lab.z_m
            if z_offset_m:
                lab.z_m = z_before + z_offset_m
        totals = [np.zeros((len(channels), len(sweep))) for _ in directions]
        completed, partial = 0, None
        try:
            clock.sleep(timing["initial_settling_s"])
            for _ in range(n_sweeps):
                rows, stopped_at = self._sweep_once(directions, channels, timing)
                if stopped_at is not None:
                    partial = rows[0][:, :stopped_at] if stopped_at >= 0 else rows[0]
                    break
                for total, part in zip(totals, rows, strict=True):
                    total += part
                completed += 1
            clock.sleep(timing["end_settling_s"])
        finally:
            with lab.lock:
                lab.bias_V = bias_before
                if z_offset_m:
                    lab.z_m = z_before
                lab.feedback_on = feedback_before
            self._running.clear()
        log.debug("bias sweep %r: %d of %d sweeps completed", base_name, completed, n_sweeps)
        if not get_data:
            return {"channel_names": [], "data": np.zeros((0, 0)), "parameters": []}
        names = ["Bias (V)"]
        if completed == 0 and partial is not None:
            # Stopped during the first sweep: what was measured of the forward direction.
            blocks = [(partial, "")]
            bias_row = sweep[: partial.shape[1]]
        else:
            # Backward data are stored in forward bias order, as the controller does.
            blocks = [
                (total / max(completed, 1) if d == 0 else (total / max(completed, 1))[:, ::-1],
                 " [bwd]" if d else "")
                for d, total in enumerate(totals)
            ]
            bias_row = sweep
        data_rows = [bias_row]
        for block, suffix in blocks:
            names.extend(_with_suffix(self.signal_names[k], suffix) for k in channels)
            data_rows.extend(block)
        parameters = [start_V, end_V, timing["settling_s"], timing["integration_s"],
                      z_offset_m, float(completed)]
        return {"channel_names": names, "data": np.vstack(data_rows), "parameters": parameters}

    def _sweep_once(
        self, directions: list[np.ndarray], channels: list[int], timing: dict[str, float]
    ) -> tuple[list[np.ndarray], int | None]:
        """One sweep (forward, maybe backward); returns the data per direction and, if a
        Stop arrived, the forward point count measured (-1: stopped in the backward part)."""
        lab, clock = self.lab, self.lab.clock
        rows = [np.zeros((len(channels), len(biases))) for biases in directions]
        period = timing["settling_s"] + timing["integration_s"]
        start = clock.now()
        for d, biases in enumerate(directions):
            for k, bias in enumerate(biases):
                if self._stop.is_set():
                    return rows, (k if d == 0 else -1)
                with lab.lock:
                    lab.bias_V = float(bias)
                # Sleep to the point's deadline, not for a fixed time after the previous
                # point's work: the controller's own timing does not drift with its overhead.
                deadline = start + (d * len(directions[0]) + k + 1) * period
                clock.sleep(max(deadline - clock.now(), 0.0))
                with lab.lock:
                    rows[d][:, k] = self._read_point(channels, timing["integration_s"])
        return rows, None

    def _read_point(self, channels: list[int], integration_s: float) -> np.ndarray:
        """One sweep point: signals read together (see :data:`_READ_TOGETHER`) share one
        reading, so X and Y of a point always belong to the same instant."""
        readers: dict[str, Callable[[], tuple[float, float]]] = {
            "demodulator": lambda: self._demodulated(integration_s),
            "lockin outputs": self.lab.lockin.analog_outputs_V,
        }
        readings: dict[str, tuple[float, float]] = {}
        values = []
        for k in channels:
            together = _READ_TOGETHER.get(self.signal_names[k])
            if together is None:
                values.append(self._read_signal(k))
                continue
            group, position = together
            if group not in readings:
                readings[group] = readers[group]()
            values.append(readings[group][position])
        return np.asarray(values, dtype=float)


_LONG_COMMANDS = frozenset({"BiasSpectr.Start", "ZCtrl.Withdraw"})
# Signals a sweep point reads together: name -> (reading, position in it). The internal
# demodulator's X and Y, and the external lock-in's two outputs.
_READ_TOGETHER: dict[str, tuple[str, int]] = {
    "LI Demod 1 X (A)": ("demodulator", 0),
    "LI Demod 1 Y (A)": ("demodulator", 1),
    "Input 1 (V)": ("lockin outputs", 0),
    "Input 2 (V)": ("lockin outputs", 1),
}


def _flag(code: int, present: bool) -> bool:
    """Nanonis flag arguments: 0 keeps the setting, 1 switches on, 2 switches off."""
    return present if code == 0 else code == 1


def _with_suffix(signal: str, suffix: str) -> str:
    """``"Current (A)"`` + ``" [bwd]"`` -> ``"Current [bwd] (A)"`` (the controller's naming)."""
    if not suffix:
        return signal
    base, paren, unit = signal.rpartition(" (")
    return f"{base}{suffix} ({unit}" if paren else signal + suffix


def _gain_label(gain_V_per_A: float) -> str:
    exponent = math.log10(gain_V_per_A)
    if abs(exponent - round(exponent)) < 1e-9:
        return f"10^{round(exponent)}"
    return f"{gain_V_per_A:g}"


def _error_only_reply(raw_name: bytes, message: str) -> bytes:
    """A reply carrying just the error block, echoing the request's name field as received."""
    body = encode_error_block(message)
    name_field = raw_name[:NAME_BYTES].ljust(NAME_BYTES, b"\0")
    return name_field + len(body).to_bytes(4, "big") + bytes(HEADER_BYTES - NAME_BYTES - 4) + body
