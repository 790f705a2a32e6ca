"""Clear errors for files that exist, unwritable places, full disks, busy and foreign files."""

from __future__ import annotations

import errno
import os
from collections import namedtuple

import h5py
import numpy as np
import pytest

from stm_andreev.storage import (
    InsufficientDiskSpaceError,
    NotARunFileError,
    RunFileBusyError,
    RunFileExistsError,
    RunFileNotFoundError,
    RunFileWriteError,
    RunReader,
    RunWriter,
    UnwritableLocationError,
    WriterClosedError,
)
from stm_andreev.storage import writer as writer_module

from ..ro_mount import read_only_mount
from .storage_helpers import append_point, new_run


def test_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(b"precious data")
    with pytest.raises(RunFileExistsError, match=str(path)):
        new_run(path)
    assert path.read_bytes() == b"precious data"
    assert isinstance(RunFileExistsError("x"), FileExistsError)


def test_existing_run_file_is_never_overwritten(tmp_path):
    path = tmp_path / "run.h5"
    with new_run(path) as writer:
        append_point(writer, 0)
    with pytest.raises(RunFileExistsError, match="never overwritten"):
        new_run(path)
    with RunReader(path) as reader:
        assert reader.n_spectra == 1


def test_missing_directory(tmp_path):
    path = tmp_path / "no" / "such" / "run.h5"
    with pytest.raises(UnwritableLocationError, match="does not exist") as info:
        new_run(path)
    assert str(path) in str(info.value)


def test_parent_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UnwritableLocationError, match="not a directory"):
        new_run(tmp_path / "afile" / "run.h5")


def _root_can_write(directory) -> bool:
    probe = directory / "probe"
    try:
        probe.write_text("x")
    except PermissionError:
        return False
    probe.unlink()
    return True


def test_read_only_directory(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        if not _root_can_write(directory):
            with pytest.raises(UnwritableLocationError, match="not writable") as info:
                new_run(directory / "run.h5")
            assert str(directory) in str(info.value)
            return
    finally:
        directory.chmod(0o700)
    # root writes through permission bits: a read-only mount stops it
    with read_only_mount(tmp_path / "mounted") as where:
        if isinstance(where, str):
            pytest.skip(f"running as root, which writes to read-only directories, and {where}")
        with pytest.raises(UnwritableLocationError, match="not writable") as info:
            new_run(where / "run.h5")
        assert str(where) in str(info.value)
        assert not os.listdir(where)


def test_permission_denied_by_the_os_is_reported_clearly(tmp_path, monkeypatch):
    """The same mapping as above, forced, so it is tested even when run as root."""
    real_open = os.open

    def deny(path, flags, *args):
        if str(path).startswith(str(tmp_path)) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(writer_module.os, "open", deny)
    with pytest.raises(UnwritableLocationError, match="not writable.*Permission denied"):
        new_run(tmp_path / "run.h5")
    assert not (tmp_path / "run.h5").exists()


def test_run_file_appears_only_once_laid_out(tmp_path, monkeypatch):
    """A directory watcher never sees a half-made *.h5 (HDF5's lock once made create fail)."""
    seen_during_layout = []
    real_layout = writer_module.create_layout

    def watching_layout(file, **kwargs):
        seen_during_layout.extend(sorted(tmp_path.glob("*.h5")))
        return real_layout(file, **kwargs)

    monkeypatch.setattr(writer_module, "create_layout", watching_layout)
    with new_run(tmp_path / "run.h5") as writer:
        assert seen_during_layout == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]  # no staging left
        with RunReader(tmp_path / "run.h5", live=True) as reader:  # a watcher opens it now
            assert reader.n_spectra == 0
        append_point(writer, 0)
    with RunReader(tmp_path / "run.h5") as reader:
        assert reader.n_spectra == 1


def test_failed_layout_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_layout(file, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(writer_module, "create_layout", broken_layout)
    with pytest.raises(RunFileWriteError, match="cannot lay out run file .*run.h5"):
        new_run(tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_not_enough_disk_space_is_refused_up_front(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(writer_module.shutil, "disk_usage",
                        lambda _path: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(InsufficientDiskSpaceError, match="needs about .* MB, 1.0 MB free"):
        RunWriter.create(tmp_path / "run.h5", n_bias=1000, n_planned=10_000, metadata={},
                         station_text="", plan_text="", snapshot={})
    assert not (tmp_path / "run.h5").exists()


def test_disk_full_while_writing_fails_the_writer_and_resume_recovers(tmp_path, monkeypatch):
    path = tmp_path / "run.h5"
    writer = new_run(path)
    append_point(writer, 0)
    real_flush = h5py.File.flush

    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(h5py.File, "flush", full)
    with pytest.raises(InsufficientDiskSpaceError, match="disk full"):
        append_point(writer, 1)
    with pytest.raises(WriterClosedError, match="resume"):
        append_point(writer, 2)
    monkeypatch.setattr(h5py.File, "flush", real_flush)
    writer.close()
    resumed = RunWriter.resume(path)
    assert resumed.finished_points == {0}
    append_point(resumed, 1)
    resumed.close()
    with RunReader(path) as reader:
        assert list(reader.ledger) == [0, 1]


def test_second_writer_on_a_live_file_is_refused(tmp_path):
    path = tmp_path / "run.h5"
    writer = new_run(path)
    append_point(writer, 0)
    with pytest.raises(RunFileBusyError, match="another live writer"):
        RunWriter.resume(path)
    append_point(writer, 1)  # the live writer was not disturbed
    writer.close()
    resumed = RunWriter.resume(path)
    assert resumed.finished_points == {0, 1}
    resumed.close()


def test_resume_of_missing_and_foreign_files(tmp_path):
    with pytest.raises(RunFileNotFoundError, match="does not exist"):
        RunWriter.resume(tmp_path / "none.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all, just some text that is long enough" * 20)
    with pytest.raises(NotARunFileError, match="not an HDF5 file"):
        RunWriter.resume(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w", libver="latest") as f:
        f["x"] = np.arange(3)
    with pytest.raises(NotARunFileError, match="not an stm_andreev run file"):
        RunWriter.resume(foreign)
    with pytest.raises(NotARunFileError, match="not an stm_andreev run file"):
        RunReader(foreign)
    with pytest.raises(NotARunFileError, match="cannot be opened"):
        RunReader(text)
    with pytest.raises(RunFileNotFoundError):
        RunReader(tmp_path / "none.h5")


def test_damaged_run_file_is_named_as_such(tmp_path):
    path = tmp_path / "run.h5"
    with new_run(path) as writer:
        append_point(writer, 0)
    with h5py.File(path, "r+") as f:
        del f["entry/points/z_m"]
    with pytest.raises(NotARunFileError, match="damaged or incomplete"):
        RunWriter.resume(path)
    with pytest.raises(NotARunFileError, match="damaged or incomplete"):
        RunReader(path)
    # the failed resume released its writer lock: a retry is not refused as "busy"
    with pytest.raises(NotARunFileError):
        RunWriter.resume(path)


def test_status_is_still_recorded_after_a_failed_write(tmp_path, monkeypatch):
    path = tmp_path / "run.h5"
    writer = new_run(path)
    append_point(writer, 0)

    def interrupted(stage: str, point: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(RunWriter, "fault_hook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        append_point(writer, 1)
    monkeypatch.setattr(RunWriter, "fault_hook", None)
    writer.close("aborted")
    with RunReader(path) as reader:
        assert reader.status == "aborted" and reader.end_time
        assert list(reader.ledger) == [0]
