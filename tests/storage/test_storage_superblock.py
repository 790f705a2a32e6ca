"""The h5clear-like repair: lookup3 checksum and clearing a dead writer's open flags."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from stm_andreev.storage import NotARunFileError
from stm_andreev.storage.superblock import (
    clear_open_flags,
    lookup3_checksum,
    superblock_flags,
)


@pytest.mark.parametrize(
    ("data", "initval", "expected"),
    [  # reference values printed by the self-test of Bob Jenkins' lookup3.c
        (b"", 0, 0xDEADBEEF),
        (b"", 0xDEADBEEF, 0xBD5B7DDE),
        (b"Four score and seven years ago", 0, 0x17770551),
        (b"Four score and seven years ago", 1, 0xCD628161),
    ],
)
def test_lookup3_reference_values(data, initval, expected):
    assert lookup3_checksum(data, initval) == expected


@pytest.mark.parametrize("length", [1, 11, 12, 13, 24, 25, 44])
def test_lookup3_matches_the_checksums_hdf5_writes(tmp_path, length):
    path = tmp_path / f"f{length}.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f["x"] = np.arange(length)
    raw = path.read_bytes()
    n = 12 + 4 * raw[9]  # superblock v2/v3 fields before the checksum
    assert lookup3_checksum(raw[:n]) == int.from_bytes(raw[n : n + 4], "little")


def _file_left_open(path):
    """A SWMR-written file whose superblock still says "open for SWMR write"."""
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("x", shape=(0,), maxshape=(None,), chunks=(4,), dtype="i8")
        f.swmr_mode = True
        f["x"].resize((3,))
        f["x"][:] = [1, 2, 3]
        f.flush()
        sb = path.read_bytes()[:64]  # as a killed writer would leave it
    path.write_bytes(sb + path.read_bytes()[64:])


def test_clearing_flags_lets_hdf5_open_the_file_again(tmp_path):
    path = tmp_path / "left_open.h5"
    _file_left_open(path)
    assert superblock_flags(path) != 0
    with pytest.raises(OSError, match="already open for"):
        h5py.File(path, "r+")
    assert clear_open_flags(path) is True
    assert superblock_flags(path) == 0
    with h5py.File(path, "r+") as f:
        assert list(f["x"][()]) == [1, 2, 3]
    assert clear_open_flags(path) is False  # already clean


def test_damaged_or_foreign_superblocks_are_refused(tmp_path):
    text = tmp_path / "x.h5"
    text.write_bytes(b"x" * 4096)
    with pytest.raises(NotARunFileError, match="not an HDF5 file"):
        clear_open_flags(text)
    old = tmp_path / "old.h5"
    with h5py.File(old, "w", libver="earliest") as f:
        f["x"] = 1
    with pytest.raises(NotARunFileError, match="superblock version 0"):
        clear_open_flags(old)
    damaged = tmp_path / "damaged.h5"
    _file_left_open(damaged)
    raw = bytearray(damaged.read_bytes())
    raw[20] ^= 0xFF  # inside the checksummed superblock fields
    damaged.write_bytes(bytes(raw))
    with pytest.raises(NotARunFileError, match="checksum mismatch"):
        clear_open_flags(damaged)
