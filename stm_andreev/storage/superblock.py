"""Clearing the "file is open for writing" flags that a killed SWMR writer leaves behind.

A file written with ``libver="latest"`` has a version 2/3 superblock whose *file consistency
flags* byte records that a writer (bit 0) or a SWMR writer (bit 2) has it open. A writer that
dies (SIGKILL, power cut of the process, segfault) never clears them, and the HDF5 library then
refuses every non-SWMR open with "file is already open for write (may use <h5clear file> to
clear file consistency flags)". ``h5clear`` is not shipped with h5py and the library offers no
public call for it, so this module does what ``h5clear`` does, following the HDF5 file-format
specification (section "Superblock", versions 2 and 3): set the flags byte to zero and
recompute the superblock's Jenkins lookup3 checksum.

Only call this when no process has the file open for writing: the run-file writer holds an
exclusive lock on the file for exactly that reason (:mod:`stm_andreev.storage.writer_lock`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .errors import NotARunFileError

log = logging.getLogger(__name__)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The superblock may sit after a user block of 0, 512, 1024, 2048, ... bytes.
_SEARCH_OFFSETS = (0, *(512 << k for k in range(12)))
_FLAGS_OFFSET = 11  # signature (8) + version + size-of-offsets + size-of-lengths
_MASK32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK32


def lookup3_checksum(data: bytes, initval: int = 0) -> int:
    """Return Bob Jenkins' lookup3 ``hashlittle`` of ``data``, as HDF5 checksums its metadata.

    Returns an unsigned 32-bit integer. HDF5 stores it little-endian after the checksummed bytes.
    """
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & _MASK32
    i = 0
    while n > 12:
        a = (a + int.from_bytes(data[i : i + 4], "little")) & _MASK32
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & _MASK32
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & _MASK32
        # mix(a, b, c)
        a = (a - c) & _MASK32
        a ^= _rot(c, 4)
        c = (c + b) & _MASK32
        b = (b - a) & _MASK32
        b ^= _rot(a, 6)
        a = (a + c) & _MASK32
        c = (c - b) & _MASK32
        c ^= _rot(b, 8)
        b = (b + a) & _MASK32
        a = (a - c) & _MASK32
        a ^= _rot(c, 16)
        c = (c + b) & _MASK32
        b = (b - a) & _MASK32
        b ^= _rot(a, 19)
        a = (a + c) & _MASK32
        c = (c - b) & _MASK32
        c ^= _rot(b, 4)
        b = (b + a) & _MASK32
        n -= 12
        i += 12
    if n == 0:
        return c
    tail = data[i : i + n] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK32
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK32
    c = (c + int.from_bytes(tail[8:12], "little")) & _MASK32
    # final(a, b, c)
    c ^= b
    c = (c - _rot(b, 14)) & _MASK32
    a ^= c
    a = (a - _rot(c, 11)) & _MASK32
    b ^= a
    b = (b - _rot(a, 25)) & _MASK32
    c ^= b
    c = (c - _rot(b, 16)) & _MASK32
    a ^= c
    a = (a - _rot(c, 4)) & _MASK32
    b ^= a
    b = (b - _rot(a, 14)) & _MASK32
    c ^= b
    c = (c - _rot(b, 24)) & _MASK32
    return c


def _find_superblock(fh, path: Path) -> int:
    size = os.fstat(fh.fileno()).st_size
    for offset in _SEARCH_OFFSETS:
        if offset + len(HDF5_SIGNATURE) > size:
            break
        fh.seek(offset)
        if fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
            return offset
    raise NotARunFileError(f"{path}: no HDF5 superblock signature found; not an HDF5 file")


def superblock_flags(path: str | os.PathLike[str]) -> int:
    """Return the file consistency flags of the HDF5 file at ``path`` (0 when closed cleanly).

    Raises :class:`NotARunFileError` for a non-HDF5 file or a superblock older than version 2
    (files not written with ``libver="latest"``).
    """
    path = Path(path)
    with open(path, "rb") as fh:
        offset = _find_superblock(fh, path)
        fh.seek(offset)
        head = fh.read(_FLAGS_OFFSET + 1)
    version = head[8]
    if version < 2:
        raise NotARunFileError(
            f"{path}: HDF5 superblock version {version}; run files use version 2 or newer"
        )
    return head[_FLAGS_OFFSET]


def clear_open_flags(path: str | os.PathLike[str]) -> bool:
    """Clear the "open for write / SWMR write" flags a dead writer left in ``path``'s superblock.

    Returns True if flags were set and have been cleared, False if the file was already clean.
    The caller must ensure no live process has the file open for writing.
    """
    path = Path(path)
    with open(path, "r+b") as fh:
        offset = _find_superblock(fh, path)
        fh.seek(offset)
        head = fh.read(12)
        version, size_of_offsets = head[8], head[9]
        if version < 2:
            raise NotARunFileError(
                f"{path}: HDF5 superblock version {version}; run files use version 2 or newer"
            )
        if size_of_offsets not in (2, 4, 8, 16):
            raise NotARunFileError(
                f"{path}: corrupt superblock (size of offsets {size_of_offsets})"
            )
        # base address, extension address, end-of-file address, root object header address
        n_checked = 12 + 4 * size_of_offsets
        fh.seek(offset)
        block = bytearray(fh.read(n_checked + 4))
        stored = int.from_bytes(block[n_checked:], "little")
        if lookup3_checksum(bytes(block[:n_checked])) != stored:
            raise NotARunFileError(f"{path}: superblock checksum mismatch; the file is damaged")
        if block[_FLAGS_OFFSET] == 0:
            return False
        log.warning(
            "%s: clearing superblock open-for-write flags 0x%02x left by a writer that died",
            path,
            block[_FLAGS_OFFSET],
        )
        block[_FLAGS_OFFSET] = 0
        checksum = lookup3_checksum(bytes(block[:n_checked]))
        block[n_checked:] = checksum.to_bytes(4, "little")
        fh.seek(offset)
        fh.write(bytes(block))
        fh.flush()
        os.fsync(fh.fileno())
    return True
