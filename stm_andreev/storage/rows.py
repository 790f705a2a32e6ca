"""Appending one row to a growing dataset through h5py's low-level API.

Each spectrum grows about 25 datasets. h5py's high-level ``resize`` plus ``__setitem__`` cost
about 0.2 ms per dataset in Python overhead (selection parsing, shape checks), several times
the HDF5 work itself; the low-level calls below do the same extend-and-write with the memory
space and types prepared once.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np


class RowAppender:
    """Grows a chunked dataset with ``maxshape=(None, ...)`` one row at a time."""

    def __init__(self, dataset: h5py.Dataset) -> None:
        self._id = dataset.id
        self.dtype = dataset.dtype
        self._row_shape = tuple(dataset.shape[1:])
        self._count = (1, *self._row_shape)
        self._origin_tail = (0,) * len(self._row_shape)
        self._mspace = h5py.h5s.create_simple(self._count)
        self._mtype = h5py.h5t.py_create(self.dtype)

    def write(self, row: int, value: Any) -> None:
        """Set the length to ``row + 1`` and store ``value`` (one row's worth) at ``row``."""
        buffer = np.ascontiguousarray(np.asarray(value, dtype=self.dtype).reshape(self._count))
        self._id.set_extent((row + 1, *self._row_shape))
        fspace = self._id.get_space()
        fspace.select_hyperslab((row, *self._origin_tail), self._count)
        self._id.write(self._mspace, fspace, buffer, self._mtype)
