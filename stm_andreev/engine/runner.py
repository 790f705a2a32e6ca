"""The run engine: executes a plan's points into one run file, whatever happens overnight.

For every point not yet in the file's ledger: bring the fridge to the point's temperature
(table from the station, wait for stability), move the tip, take the spectrum, check it
(temperature stayed in band, instruments kept their settings), write it and flush. Around
that loop:

* interlocks (safe-tip event, preamp saturation) withdraw the tip and pause; a temperature
  above the ceiling pauses with the heater at its safe range;
* a lost or garbled link is retried a bounded number of times (drivers reconnect), then
  the run pauses in the safe state;
* every such event goes to the run's event log (and to the notifier);
* pause/resume/abort come from :class:`~.control.RunControl`;
* any exit (finish, abort, exception) goes through the safe state and closes the file, so
  ``stm-andreev run --resume FILE`` continues at the first unfinished point.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from stm_andreev.procedures import (
    InterlockError,
    Point,
    RetakeNeeded,
    SafeTipEvent,
    SettleTimeout,
    SweepAborted,
    TemperatureCeilingError,
    TemperatureExcursion,
    take_spectrum,
)
from stm_andreev.procedures.grid import GridSession, PixelPlace
from stm_andreev.procedures.spectroscopy import PreampSaturation
from stm_andreev.procedures.temperature import set_temperature, wait_for_temperature
from stm_andreev.storage import RunWriter
from stm_andreev.storage.errors import InsufficientDiskSpaceError, RunFileWriteError
from stm_andreev.storage.ramp_samples import write_ramp_samples

from .control import AbortRequested, RunControl
from .links import LINK_ERRORS, is_command_error

log = logging.getLogger(__name__)

MAX_LINK_RETRIES = 3
MAX_RETAKES = 3
# Extra per-spectrum columns the engine adds to the storage table.
POINT_KEYS = ["step_index", "target_temperature_K", "repeat"]


def takes_continuous_spectra(points: list[Point]) -> bool:
    """Whether a run of ``points`` needs the run file's room for continuous spectra (the
    per-point sigma and the ramp columns: ``RunWriter.create(..., continuous=True)``)."""
    return any(p.settings.acquisition == "continuous" for p in points)


def ramp_record(spectrum, names: frozenset[str]) -> dict:
    """The ramp columns of a continuous spectrum's record (those the run file has): how the
    ramp was taken and estimated (``spectrum.ramp``) and the median per-point sigma of G."""
    record = {k: v for k, v in spectrum.ramp.items() if k in names}
    if spectrum.G_sigma_S is not None and "ramp_G_sigma_median_S" in names:
        record["ramp_G_sigma_median_S"] = float(np.nanmedian(spectrum.G_sigma_S))
    return record


@dataclass
class RunSummary:
    path: str
    planned: int
    measured: int = 0
    already_done: int = 0
    events: list[tuple[str, str]] = field(default_factory=list)
    status: str = "running"
    wall_s: float = 0.0
    station_time_s: float = 0.0
    # The last spectrum stored (point_index, setpoint_A, temperature_K, G_sp_S, time_s), for
    # notifications and progress displays; empty before the first one.
    last_spectrum: dict = field(default_factory=dict)


class RunEngine:
    """Runs ``points`` on ``station`` into ``writer`` (a RunWriter, new or resumed)."""

    def __init__(
        self,
        station,
        points: list[Point],
        writer,
        *,
        control: RunControl | None = None,
        notifier=None,
        progress: Callable[[int, int, Point | None], None] | None = None,
        on_spectrum: Callable[[Point, object], None] | None = None,
    ) -> None:
        self.station = station
        self.points = points
        self.writer = writer
        self.control = control or RunControl()
        self.notifier = notifier
        self.progress = progress
        self.on_spectrum = on_spectrum
        self.summary = RunSummary(str(writer.path), len(points))
        self._target_K: float | None = None
        self._excursion_K = 0.0
        self._grid: GridSession | None = None  # made at the first grid pixel
        self._place: PixelPlace | None = None  # where the present grid pixel was taken
        self._spectrum_start_s = math.nan

    # ------------------------------------------------------------------ events
    def event(self, kind: str, message: str, point: Point | None = None) -> None:
        index = -1 if point is None else point.index
        log.info("%s: %s", kind, message)
        self.summary.events.append((kind, message))
        try:
            self.writer.log_event(kind, message, time_s=self.station.clock.now(), point_index=index)
        except Exception:  # the event log must never take the run down
            log.exception("could not write event %s", kind)
        if self.notifier is not None and kind in self.notifier.kinds:
            self.notifier.send(kind, message, self.summary)

    # ------------------------------------------------------------------ main loop
    def run(self) -> RunSummary:
        start_wall = time.perf_counter()
        start_clock = self.station.clock.now()
        done = set(self.writer.finished_points)
        todo = [p for p in self.points if p.index not in done]
        self.summary.already_done = len(self.points) - len(todo)
        verb = "resume" if self.summary.already_done else "start"
        self.event(verb, f"{len(todo)} of {len(self.points)} spectra to measure")
        status = "finished"
        try:
            for n, point in enumerate(todo):
                self._report(self.summary.already_done + n, point)
                self._measure_point(point)
            self._report(len(self.points), None)
        except AbortRequested:
            status = "aborted"
            self.event("abort", "aborted by the operator; instruments in the safe state")
            self.safe_state()
        except BaseException as exc:
            status = "failed"
            self.event("failure", f"{type(exc).__name__}: {exc}")
            self.safe_state()
            self._close(status, start_wall, start_clock)
            raise
        self._close(status, start_wall, start_clock)
        return self.summary

    def _close(self, status: str, start_wall: float, start_clock: float) -> None:
        self.summary.status = status
        self.summary.wall_s = time.perf_counter() - start_wall
        self.summary.station_time_s = self.station.clock.now() - start_clock
        if status == "finished":
            self.event("finish", f"{self.summary.measured} spectra measured")
        self.writer.close(status)

    def _report(self, done: int, point: Point | None) -> None:
        if self.progress is not None:
            self.progress(done, len(self.points), point)

    # ------------------------------------------------------------------ one point
    def _measure_point(self, point: Point) -> None:
        link_failures = 0
        retakes = 0
        while True:
            self._honour_operator_pause(point)
            self.control.check_abort()
            try:
                self._prepare(point)
                spectrum = self._take(point)
                self._verify(point, spectrum)
            except SweepAborted as exc:
                # Logged with its point (how far the sweep got), then the ordinary abort;
                # nothing was stored, so a resume takes this point again.
                self.event(exc.kind, str(exc), point)
                raise AbortRequested(str(exc)) from exc
            except RetakeNeeded as exc:  # temperature excursion, lock-in overload, ...
                retakes += 1
                self.event("retake", f"{exc}; re-taking (attempt {retakes + 1})", point)
                if retakes > MAX_RETAKES:
                    self._interlock(
                        point, f"temperature would not hold after {MAX_RETAKES} re-takes"
                    )
                continue
            except (SafeTipEvent, PreampSaturation) as exc:
                self._interlock(point, str(exc), kind=exc.kind, withdraw=True)
                continue
            except TemperatureCeilingError as exc:
                self._interlock(point, str(exc), kind=exc.kind, heater_safe=True)
                continue
            except (InterlockError, SettleTimeout) as exc:
                self._interlock(point, str(exc), kind=exc.kind)
                continue
            except LINK_ERRORS as exc:
                if is_command_error(exc):
                    self._interlock(
                        point, f"instrument refused a command: {exc}", kind="instrument_error"
                    )
                    continue
                link_failures += 1
                self.event(
                    "link_error", f"{type(exc).__name__}: {exc} (try {link_failures})", point
                )
                if link_failures > MAX_LINK_RETRIES:
                    self._interlock(
                        point,
                        f"instrument link lost {link_failures} times: {exc}",
                        kind="link_lost",
                    )
                    link_failures = 0
                else:
                    self.station.reconnect()
                continue
            spectrum.record["retake_count"] = retakes
            self._store_or_pause(point, spectrum)
            return

    def _prepare(self, point: Point) -> None:
        station = self.station
        if point.temperature_K is not None and point.temperature_K != self._target_K:
            set_temperature(station, point.temperature_K)
            self._target_K = point.temperature_K
            self.event("temperature", f"going to {point.temperature_K:g} K", point)
            wait_for_temperature(station, point.temperature_K, check=self.control.check_abort)
        if point.grid is not None:
            self._place = self._grid_session().prepare(
                station, point.grid, point.position_m, point.settings.V_sp_V,
                self._nominal_of(point.grid.move), lambda kind, text: self.event(kind, text, point),
                self.writer.set_grid_reference, check=self.control.check_abort)
        elif point.position_m is not None:
            x, y = point.position_m
            current = station.feedback.get_tip_position()
            if not np.allclose(current, (x, y), atol=1e-12):
                station.feedback.set_tip_position(x, y)

    def _grid_session(self) -> GridSession:
        if self._grid is None:
            # A resumed run picks up the stored drift reference and the last correction.
            self._grid = GridSession(self.writer.grid_state())
        return self._grid

    def _nominal_of(self, move):
        points = self.points

        def nominal(pixel: int) -> tuple[float, float]:
            # Points are numbered from 0 in plan order; a grid's pixel k is its point
            # first_point + k (the engine may hold the points from a later step on only).
            index = move.first_point + pixel - points[0].index
            return points[index].position_m

        return nominal

    def _take(self, point: Point):
        self._spectrum_start_s = self.station.clock.now()
        self._excursion_K = 0.0
        target = point.temperature_K

        def check() -> None:
            self.control.check_abort()
            if target is not None:
                self._excursion_K = max(
                    self._excursion_K, abs(self.station.mixing_chamber_K() - target)
                )

        return take_spectrum(
            self.station,
            point.setpoint_A,
            point.settings,
            check=check,
            abort_requested=self.control.abort_pending,
        )

    def _verify(self, point: Point, spectrum) -> None:
        """Re-take if the temperature left its band or an instrument lost its settings."""
        rec = spectrum.record
        if point.temperature_K is not None:
            tol = self.station.config.temperature_control.settle.tolerance_K
            worst = max(
                self._excursion_K,
                abs(rec["temperature_before_K"] - point.temperature_K),
                abs(rec["temperature_after_K"] - point.temperature_K),
            )
            if worst > tol:
                self._target_K = None  # wait for stability again before the re-take
                raise TemperatureExcursion(
                    f"temperature left its band during the spectrum (off by {worst * 1e3:.2f} mK "
                    f"> {tol * 1e3:.2f} mK)"
                )
        if point.settings.uses_external_lockin:
            lockin = self.station.lockin
            expected = {
                "lockin time constant": (lockin.time_constant, rec["lockin_time_constant_s"]),
                "lockin sensitivity": (lockin.sensitivity, rec["lockin_sensitivity_V"]),
                "lockin sine amplitude": (
                    lockin.sine_voltage,
                    rec["modulation_Vrms"] * self.station.modulation_divider,
                ),
            }
            lost = [
                k
                for k, (now, want) in expected.items()
                if not math.isclose(now, want, rel_tol=0.02)
            ]
            # The controller read X and Y off the outputs: they must still carry them.
            if point.settings.acquisition == "controller_lockin" and not lockin.xy_outputs_routed():
                lost.append("lockin outputs X/Y")
            if lost:
                self.event(
                    "settings_lost",
                    f"{', '.join(lost)} changed during the spectrum "
                    "(instrument restart?); settings restored, re-taking",
                    point,
                )
                raise RetakeNeeded("instrument settings lost")
        if not np.all(np.isfinite(spectrum.G_S)):
            raise RetakeNeeded("spectrum holds non-finite values")

    def _store_or_pause(self, point: Point, spectrum) -> None:
        """Store the spectrum; if the run file cannot take it (disk full, I/O error), pause in
        the safe state holding the spectrum in memory, and on resume re-open the file (which
        drops the half-written row) and store it again."""
        while True:
            try:
                self._store(point, spectrum)
                return
            except (InsufficientDiskSpaceError, RunFileWriteError) as exc:
                self._pause_for_storage(point, exc)

    def _pause_for_storage(self, point: Point, exc: Exception) -> None:
        # The failed writer takes nothing more, so these events reach the file only after it
        # is re-opened; they keep the time they happened.
        failed_at = self.station.clock.now()
        pending = [
            ("storage_error", f"{type(exc).__name__}: {exc}"),
            ("pause", "paused: run file not writable; free space, then resume"),
        ]
        for kind, message in pending:
            log.error("%s: %s", kind, message)
            self.summary.events.append((kind, message))
            # The operator must hear of it tonight: nobody frees the disk otherwise.
            if self.notifier is not None and kind in self.notifier.kinds:
                self.notifier.send(kind, message, self.summary)
        self.safe_state(heater_safe=False)
        path = self.writer.path
        self.writer.close("paused")  # best effort after the failure; releases the file
        if getattr(self.writer, "close_failed", False):
            # HDF5 met the full disk half-way through a flush and still holds the file: it
            # cannot be re-opened in this process. What the ledger confirmed is safe.
            raise RunFileWriteError(
                f"{path}: the disk filled while HDF5 was writing and the file could not be "
                f"closed; free space, then continue with `stm-andreev run --resume {path}`"
            ) from exc
        self.control.request("pause")
        try:
            self.control.wait_while_paused()
        finally:
            # Re-opened on resume and on abort alike, so the file ends "aborted", not "paused".
            self.writer = RunWriter.resume(path)
            for kind, message in pending:
                self.writer.log_event(kind, message, time_s=failed_at, point_index=point.index)
        self.event("resume", "resumed by the operator; run file re-opened", point)

    def _store(self, point: Point, spectrum) -> None:
        record = dict(spectrum.record)
        record.update(
            time_s=self.station.clock.now(),
            status_code=0,
            status_text="ok" if not record.get("retake_count") else "ok after re-take",
            step_index=point.step_index,
            target_temperature_K=math.nan if point.temperature_K is None else point.temperature_K,
            repeat=point.repeat,
        )
        samples = getattr(spectrum, "ramp_samples", None)
        if samples is not None:
            # Before the row: a reader that sees the row finds its samples. A failure to keep
            # them costs the raw samples only, never the spectrum.
            try:
                write_ramp_samples(self.writer.path, point.index, samples)
            except OSError as exc:
                log.warning("point %d: raw ramp samples not kept: %s", point.index, exc)
        sigma = None
        if getattr(self.writer, "stores_sigma", False):  # a run with continuous spectra
            record.update(ramp_record(spectrum, self.writer.record_names))
            sigma = spectrum.G_sigma_S
        extra = {}
        if point.grid is not None:
            place = self._place
            extra["grid"] = {
                "z_m": place.z_m, "pos_x_m": place.pos_x_m, "pos_y_m": place.pos_y_m,
                "time_s": self._spectrum_start_s,
                "T_K": 0.5 * (record["temperature_before_K"] + record["temperature_after_K"]),
            }
        self.writer.append_spectrum(
            point.index,
            bias_V=spectrum.bias_V,
            G_S=spectrum.G_S,
            X_V=spectrum.X_V,
            Y_V=spectrum.Y_V,
            record=record,
            **({} if sigma is None else {"G_sigma_S": sigma}),
            **extra,
        )
        if point.grid is not None:
            self._grid.pixel_taken(point.grid)
        self.summary.measured += 1
        self.summary.last_spectrum = {
            "point_index": point.index,
            "setpoint_A": point.setpoint_A,
            "temperature_K": record.get("temperature_after_K", math.nan),
            "G_sp_S": record.get("G_sp_S", math.nan),
            "time_s": record["time_s"],
        }
        if self.on_spectrum is not None:
            self.on_spectrum(point, spectrum)

    # ------------------------------------------------------------------ safety
    def _interlock(
        self,
        point: Point,
        message: str,
        *,
        kind: str = "interlock",
        withdraw: bool = False,
        heater_safe: bool = False,
    ) -> None:
        self.event(kind, message, point)
        self.safe_state(withdraw=withdraw, heater_safe=heater_safe)
        self._target_K = None
        self.control.request("pause")
        self._paused(f"paused after {kind}; resume when safe", point)
        self.control.wait_while_paused()
        self.event("resume", "resumed by the operator", point)
        self.writer.set_status("running")

    def _honour_operator_pause(self, point: Point) -> None:
        """Wait out an operator pause; on resume, log it and mark the file running again."""
        paused = []

        def on_pause() -> None:
            paused.append(True)
            self._paused("operator pause", point)

        self.control.wait_while_paused(on_pause=on_pause)
        if paused:
            self.event("resume", "resumed by the operator", point)
            self.writer.set_status("running")

    def _paused(self, message: str, point: Point | None) -> None:
        # The why before the status: a reader that sees "paused" then finds the pause event
        # (readers refresh the status before the event log, storage/reader.py).
        self.event("pause", message, point)
        self.writer.set_status("paused")

    def safe_state(self, *, withdraw: bool = False, heater_safe: bool = True) -> None:
        """Feedback on (or tip withdrawn), bias back to V_sp, heater to its safe range.

        Each action is tried on its own: one failing instrument must not stop the others
        from being made safe.
        """
        station = self.station
        fb = station.feedback
        V_sp = self.points[0].settings.V_sp_V if self.points else -3e-3
        actions: list[tuple[str, Callable[[], None]]] = []
        if withdraw:
            actions.append(("withdraw the tip", lambda: fb.withdraw()))
        else:
            actions.append(("bias to V_sp", lambda: fb.set_bias(V_sp)))
            actions.append(("feedback on", lambda: fb.set_feedback(True)))
        if heater_safe:
            actions.append(("heater to its safe range", self._heater_safe))
        for what, action in actions:
            try:
                action()
            except Exception as exc:
                log.error("safe state: could not %s: %s", what, exc)
                self.summary.events.append(("safe_state_error", f"could not {what}: {exc}"))

    def _heater_safe(self) -> None:
        safe = self.station.config.temperature_control.safe_heater_range
        if safe == 0:
            self.station.temperature.heater_off()
        else:
            self.station.temperature.output.heater_range = safe
