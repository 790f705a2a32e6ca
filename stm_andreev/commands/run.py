"""``stm-andreev run [PLAN] [--station FILE] [--out DIR] [--resume FILE]``: the overnight sweep.

With no arguments: the simulated station (in-process, virtual clock) and the plan that
reproduces the paper on InO-2 (setpoint sweep at 65 mK, then a temperature sweep to 1.6 K).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shlex
import sys
import time
from pathlib import Path

from stm_andreev.commands.status_line import StatusLine

HELP = "run a measurement plan into a crash-safe HDF5 run file (default: the paper dry run)"
DEFAULT_PLAN = "paper-inO2"
DEFAULT_STATION = "simulated"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "plan",
        nargs="?",
        default=DEFAULT_PLAN,
        help=f"plan name in configs/plans/ or a path (default {DEFAULT_PLAN})",
    )
    parser.add_argument(
        "--station",
        default=None,
        help=f"station file or name in configs/ (default {DEFAULT_STATION}); with --resume "
             "only to check that it is the one the run started with",
    )
    parser.add_argument(
        "--out", default=None, help="directory for the run file (default: the station's output_dir)"
    )
    parser.add_argument(
        "--resume",
        metavar="FILE",
        default=None,
        help="continue a killed or aborted run in the same file",
    )
    parser.add_argument(
        "--into",
        metavar="NEW",
        default=None,
        help="with --resume: continue into the new file NEW, copying every intact spectrum "
             "(for a damaged run file, which is only read)",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the analysis report")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        code = _run(args)
    except Exception as exc:
        if _is_config_error(exc):
            print(f"error: {exc}", file=sys.stderr)
            hint = _kind_hint(exc)
            if hint:
                print(hint, file=sys.stderr)
            code = 2
        elif _is_storage_error(exc):
            print(f"error: {exc}", file=sys.stderr)
            code = 3
        else:
            raise
    _exit_now_if_files_unclosed(code)
    return code


def _is_config_error(exc: Exception) -> bool:
    # Looked up like storage errors below: `--resume` of a damaged file is refused before the
    # configuration stack is imported, and a config error can only come from it once imported.
    errors = sys.modules.get("stm_andreev.config.errors")
    return errors is not None and isinstance(exc, errors.ConfigError)


def _is_storage_error(exc: Exception) -> bool:
    # Looked up, not imported: storage pulls in HDF5, which a mistyped plan name must not wait
    # for, and a storage error can only have come from storage once it was imported.
    errors = sys.modules.get("stm_andreev.storage.errors")
    return errors is not None and isinstance(exc, errors.StorageError)


def _exit_now_if_files_unclosed(code: int) -> None:
    """After a full disk HDF5 may hold a run file it could not close; h5py collecting it at
    interpreter exit crashes the process, so leave without that collection (what the ledger
    confirmed is on disk; ``--resume`` in a new process recovers it)."""
    writer = sys.modules.get("stm_andreev.storage.writer")  # no run file was opened without it
    if writer is not None and writer.unclosed_files():
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)


def _kind_hint(exc) -> str:
    """How to pass a station file given as the plan, or a plan given as --station ("" else)."""
    from stm_andreev.config import ConfigKindError

    if not isinstance(exc, ConfigKindError):
        return ""
    if exc.found == "station":
        return f"  a station is given with --station: stm-andreev run [PLAN] --station {exc.file}"
    return f"  a plan is the first argument: stm-andreev run {exc.file} [--station STATION]"


def _run(args) -> int:
    if args.into and not args.resume:
        print("error: --into NEW continues the file given with --resume: "
              "stm-andreev run --resume FILE --into NEW", file=sys.stderr)
        return 2
    if args.into:
        problem = _continue_into(args.resume, args.into)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        args.resume = args.into
    if args.resume:
        # Checked read-only, in bounded time, before anything is written: a file of another
        # program, a damaged or a busy one is left byte for byte as it was.
        problem = _resume_problem(args.resume)
        if problem:
            print(f"error: cannot resume: {problem}", file=sys.stderr)
            return 2
        if os.path.islink(args.resume):
            # The run goes on in the file the link points to: its control file, report and
            # messages carry that name, the one the GUI and other tools see.
            real = os.path.realpath(args.resume)
            print(f"note: {args.resume} is a symbolic link; resuming {real}", file=sys.stderr)
            args.resume = real
    from stm_andreev.config import (
        load_plan,
        load_plan_text,
        load_station,
        load_station_text,
    )

    if args.resume:
        from stm_andreev.storage import RunWriter

        meta = _stored_texts(args.resume)
        problem = _station_changed(args.resume, meta, args.station)
        if problem:
            print(f"error: cannot resume: {problem}", file=sys.stderr)
            return 2
        writer = RunWriter.resume(args.resume)
        station_cfg = load_station_text(meta["station_text"], file=f"{args.resume}:station")
        plan = load_plan_text(meta["plan_text"], file=f"{args.resume}:plan")
        station_text, plan_text = meta["station_text"], meta["plan_text"]
    else:
        args.station = args.station or DEFAULT_STATION
        station_cfg = load_station(args.station)
        plan = load_plan(args.plan)
        station_text = station_cfg.source_text
        plan_text = plan.source_text
    # Every limit is checked before any instrument is contacted.
    from stm_andreev.procedures.checks import require_plan_fits_station

    require_plan_fits_station(plan, station_cfg)
    # Imported once the files are known to be good, so that a mistyped file or plan name is
    # refused at once instead of after loading the engine, the drivers and HDF5.
    from stm_andreev.engine import RunControl, RunEngine
    from stm_andreev.engine.runner import POINT_KEYS, takes_continuous_spectra
    from stm_andreev.procedures.cooldown import split_plan
    from stm_andreev.procedures.grid import grid_geometry
    from stm_andreev.station import Station
    from stm_andreev.storage import RunWriter
    # Cooldown steps take no spectra: they log into their own file before the run file exists.
    cooldown_steps, points = split_plan(plan)
    if args.resume:
        cooldown_steps = []  # done before the run file was created
    n_bias = {p.settings.bias_V.size for p in points}  # one width: PlanConfig checked it

    if not args.resume:
        # Checked before the station is built: no instrument is touched for a run that
        # could not store anything.
        out_dir = Path(args.out) if args.out else Path(station_cfg.output_dir)
        problem = _output_dir_problem(out_dir)
        if problem:
            print(f"error: cannot write run files to {out_dir}: {problem}", file=sys.stderr)
            return 2
    station = Station.from_config(station_cfg, source_text=station_text)
    try:
        if not args.resume:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        if cooldown_steps:
            from stm_andreev.commands.cooldown import print_summary, run_with_progress

            cooled = run_with_progress(
                station, plan, cooldown_steps, out_dir, station_text=station_text,
                notifier=_notifier(station_cfg), quiet=args.quiet, stamp=stamp,
            )
            print_summary(cooled)
            if cooled.status != "finished" or not points:
                return 0 if cooled.status == "finished" else 3
        if not args.resume:
            writer = _create_unique(
                RunWriter.create,
                out_dir,
                f"{stamp}_{plan.name}",
                n_bias=n_bias.pop(),
                n_planned=len(points),
                metadata={
                    "plan": plan.name,
                    "station": station_cfg.name,
                    "simulated": station.simulated,
                    "sample": station_cfg.simulation.sample_name if station.simulated else "",
                    # where the station came from: a resume says what an edit there changed
                    "station_file": str(Path(station_cfg.source_file).resolve())
                    if station_cfg.source_file else "",
                },
                station_text=station_text,
                plan_text=plan_text,
                snapshot=station.snapshot(),
                point_keys=POINT_KEYS,
                continuous=takes_continuous_spectra(points),
                grid=grid_geometry(plan),
            )
        control = RunControl(writer.path)
        control.install_signal_handlers()
        progress = None if args.quiet else ProgressBar(station.clock)
        engine = RunEngine(
            station,
            points,
            writer,
            control=control,
            notifier=_notifier(station_cfg),
            progress=progress,
        )
        try:
            summary = engine.run()
        finally:
            control.restore_signal_handlers()
            if progress is not None:
                progress.finish()
    finally:
        station.close()
    _print_summary(summary)
    if summary.status != "finished":
        # The file holds the station and the plan: --resume alone continues it.
        print(f"to resume:     stm-andreev run --resume {shlex.quote(str(summary.path))}")
    if summary.status == "finished" and not args.no_report:
        _report(Path(summary.path))
    return 0 if summary.status == "finished" else 3


MAX_NAME_SUFFIX = 100


def _create_unique(create, out_dir: Path, stem: str, **kwargs):
    """``create(out_dir / f"{stem}.h5", **kwargs)``, or with a suffix ``-2``, ``-3``... when
    the name is taken: run-file names have a one-second stamp, and two runs started in the same
    second (or a file already there) must not collide. Creation is exclusive, so two processes
    racing for one name end up with two names."""
    from stm_andreev.storage import RunFileExistsError

    for n in range(1, MAX_NAME_SUFFIX + 1):
        path = out_dir / (f"{stem}.h5" if n == 1 else f"{stem}-{n}.h5")
        try:
            return create(path, **kwargs)
        except RunFileExistsError:
            continue
    raise RunFileExistsError(f"{out_dir / stem}.h5 and {MAX_NAME_SUFFIX - 1} suffixed names "
                             "are all taken")


def _resume_problem(path: str) -> str:
    """Why ``path`` cannot be resumed (missing, not a run file, damaged, unreadable), or ""."""
    from stm_andreev.storage.verify import DAMAGED, verify_run_file

    verdict = verify_run_file(path)
    if verdict.ok:
        return _not_writable(path)
    text = verdict.describe()
    if verdict.state == DAMAGED:
        text += (f"\n  its {len(verdict.intact)} intact spectra are safe in it; to continue "
                 "the run in a new file that copies them (the damaged file is only read):\n"
                 f"  stm-andreev run --resume {shlex.quote(path)} --into "
                 f"{shlex.quote(str(_continued_name(Path(path))))}")
    return text


def _not_writable(path: str) -> str:
    """Why the intact run file ``path`` cannot be appended to here (a read-only disk, no
    permission), or "". Opening it for writing changes nothing in it."""
    try:
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        return (f"{path}: intact, but it cannot be written here ({exc.strerror}); it can still "
                "be verified and analysed. To continue the run, copy it to a writable disk and "
                "resume the copy, or continue into a new file: stm-andreev run --resume "
                f"{shlex.quote(path)} --into NEW.h5")
    return ""


def _continued_name(path: Path) -> Path:
    """A free name beside ``path`` for its continuation: RUN-continued.h5, -continued-2.h5..."""
    for n in range(1, MAX_NAME_SUFFIX + 1):
        name = f"{path.stem}-continued{'' if n == 1 else f'-{n}'}.h5"
        if not (path.parent / name).exists():
            return path.parent / name
    return path.parent / f"{path.stem}-continued-new.h5"


def _continue_into(source: str, target: str) -> str:
    """Copy the intact spectra, ledger, configuration and events of the run file ``source``
    (damaged or not) into the new run file ``target``; why not, or "" once done. ``source`` is
    only read, and held against another writer while it is copied."""
    from stm_andreev.storage import RunFileBusyError
    from stm_andreev.storage.salvage import SalvageError, salvage_into
    from stm_andreev.storage.verify import DAMAGED, INTACT, verify_run_file
    from stm_andreev.storage.writer_lock import WriterLock

    src, dst = Path(source), Path(target)
    if dst.exists() or dst.is_symlink():
        return f"cannot continue into {dst}: it exists; run files are never overwritten"
    if src.exists() and src.resolve() == dst.resolve():
        return f"cannot continue {src} into itself: name a new file with --into"
    verdict = verify_run_file(src)
    if verdict.state not in (INTACT, DAMAGED):
        return f"cannot continue: {verdict.describe()}"
    lock = None
    try:
        lock = WriterLock(src)
    except RunFileBusyError as exc:
        return f"cannot continue: {exc}"
    except OSError as exc:  # read-only medium or file: nobody appends to it through us
        log.info("%s: not locked for the copy (%s)", src, exc.strerror or exc)
    try:
        salvaged = salvage_into(src, dst)
    except SalvageError as exc:
        return str(exc)
    finally:
        if lock is not None:
            lock.release()
    print(salvaged.describe())
    return ""


def _output_dir_problem(out_dir: Path) -> str:
    """Why run files cannot be written in ``out_dir`` (created if missing), or ""."""
    import tempfile

    if out_dir.is_symlink() and not out_dir.exists():
        return f"a symbolic link to {os.readlink(out_dir)}, which does not exist"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # A real write: permission bits say nothing for root or on a read-only mount.
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def _stored_texts(path: str) -> dict[str, str]:
    from stm_andreev.storage import RunReader

    with RunReader(path) as reader:
        return {"station_text": reader.station_text, "plan_text": reader.plan_text,
                "station_file": str(reader.metadata.get("station_file", "") or "")}


def _station_changed(path: str, meta: dict[str, str], given: str | None) -> str:
    """A resumed run goes on with the station stored in its run file, whatever the station
    file says now: every spectrum of one run is taken with one configuration (limits,
    calibrations, lock-in settings). A station file given with ``--station`` that differs is
    refused (the message names the keys); the file the run started from, edited since, is
    named with the keys that differ, and the run goes on as it started."""
    from stm_andreev.config import resolve_config_path
    from stm_andreev.config.differences import describe, differing_keys
    from stm_andreev.redact import redact

    stored = meta["station_text"]
    if given is not None:
        file = resolve_config_path(given)
        try:
            text = redact(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            return f"--station {given}: cannot read {file} ({exc})"
        keys = differing_keys(stored, text, str(file))
        if keys:
            return (f"{path} was started with another station than {file} (differs in "
                    f"{describe(keys)}); a run continues with the station stored in its file. "
                    "Leave out --station to continue it, or start a new run with the new "
                    "station")
        return ""
    started_from = meta.get("station_file", "")
    if started_from and Path(started_from).is_file():
        try:
            text = redact(Path(started_from).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return ""
        keys = differing_keys(stored, text, started_from)
        if keys:
            print(f"note: {started_from} was edited since {path} started (differs in "
                  f"{describe(keys)}); the run continues with the station stored in the run "
                  "file, as it started. To measure with the edited station, start a new run.",
                  file=sys.stderr)
    return ""


def _notifier(station_cfg):
    if station_cfg.notifications is None:
        return None
    from stm_andreev.engine.notify import Notifier

    return Notifier(station_cfg.notifications)


def _print_summary(summary) -> None:
    lines = [
        f"run file:      {summary.path}",
        f"status:        {summary.status}",
        f"spectra:       {summary.measured} measured now, {summary.already_done} from before, "
        f"{summary.planned} planned",
        f"time taken:    {summary.wall_s:.1f} s wall, {_hms(summary.station_time_s)} of station time",
    ]
    notable = [
        e for e in summary.events if e[0] not in ("start", "resume", "finish", "temperature")
    ]
    lines.append(f"events:        {len(notable)} notable" + (":" if notable else ""))
    lines += [f"  - {kind}: {message}" for kind, message in notable[:20]]
    print("\n".join(lines))


def _report(path: Path) -> None:
    try:
        from stm_andreev.analysis.report import write_report
    except ImportError:
        return
    out = path.with_suffix("")
    out = out.parent / f"{out.name}_report"
    try:
        report = write_report([path], out)
        print(f"report:        {report} (figures and summary.json beside it)")
        # The report's opening paragraph is the physics summary: gaps, Tc, where Delta_c closes.
        text = Path(report).read_text(encoding="utf-8").split("## ", 1)[0]
        for line in text.splitlines()[1:]:
            if line.strip():
                print(f"  {line.strip()}")
    except Exception as exc:  # the data are safe in the run file whatever the report does
        log.exception("report failed")
        print(f"report failed: {exc}", file=sys.stderr)


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s"


class ProgressBar:
    """One line on stderr: bar, spectra done, wall ETA, station time (log records step around
    it, see :mod:`stm_andreev.commands.status_line`)."""

    def __init__(self, clock, width: int = 30, stream=None) -> None:
        self.clock = clock
        self.width = width
        self.start = time.perf_counter()
        self.first_done: int | None = None
        self.line = StatusLine(stream)

    def __call__(self, done: int, total: int, point) -> None:
        if self.first_done is None:
            self.first_done = done
            self.start = time.perf_counter()
        elapsed = time.perf_counter() - self.start
        fresh = done - self.first_done
        remaining = total - done
        eta = elapsed / fresh * remaining if fresh > 0 else float("nan")
        filled = int(self.width * done / max(total, 1))
        what = (
            ""
            if point is None
            else f" {point.step_label} I={point.setpoint_A:.2g}A"
            + ("" if point.temperature_K is None else f" T={point.temperature_K:g}K")
        )
        eta_text = "--:--" if eta != eta else f"{int(eta) // 60:02d}:{int(eta) % 60:02d}"
        self.line.show(
            f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} ETA {eta_text} "
            f"station {_hms(self.clock.now())}{what}"
        )

    def finish(self) -> None:
        self.line.close()
