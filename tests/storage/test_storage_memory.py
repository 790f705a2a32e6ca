"""Nothing in the writer grows with the number of spectra."""

from __future__ import annotations

import gc
import tracemalloc

from .storage_helpers import append_point, new_run


def test_writer_python_memory_does_not_grow_with_spectra(tmp_path):
    writer = new_run(tmp_path / "run.h5", n_planned=260, n_bias=64)
    for point in range(60):  # warm-up: caches, interned strings, lazily built objects
        append_point(writer, point)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for point in range(60, 260):
            append_point(writer, point)
            if point % 20 == 0:
                writer.log_event("progress", f"point {point}", time_s=float(point))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        writer.close()
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    # 200 spectra x 5 arrays x 64 values are 500 KiB; a writer keeping them would exceed this.
    assert growth < 64 * 1024, growth
