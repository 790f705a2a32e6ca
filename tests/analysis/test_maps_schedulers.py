"""The same graph on every scheduler gives the same numbers: in this process, on Dask's local
process pool, and on a dask.distributed cluster (in-process LocalCluster here, to stay cheap;
bench/bench_maps.py runs one with worker processes)."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.analysis.maps import analyze_map
from stm_andreev.analysis.maps_schedule import SchedulerError

from .maps_cases import small_cube

NUMERIC = ("E_g", "E_g_sigma", "E_g_grade", "Delta_c", "Delta_c_sigma", "Gamma", "Z", "G_N",
           "G_N_sigma", "chi2_noise")


@pytest.fixture(scope="module")
def cube():
    # 2 x 2 pixels in blocks of 1 x 2: two tasks, so the pool really shares them out.
    c, _ = small_cube(3, 3)
    return c.isel(y=slice(0, 2), x=slice(0, 2))


@pytest.fixture(scope="module")
def reference(cube):
    return analyze_map(cube, scheduler="sync", block=(1, 2))


def _same(a, b) -> None:
    for name in NUMERIC:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert (a["model"].values == b["model"].values).all()
    assert (a["reason"].values == b["reason"].values).all()


def test_local_process_pool_gives_the_same_numbers(cube, reference):
    _same(analyze_map(cube, workers=2, block=(1, 2)), reference)


def test_distributed_cluster_gives_the_same_numbers(cube, reference):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        by_cluster = analyze_map(cube, scheduler=cluster, block=(1, 2))
        by_address = analyze_map(cube, scheduler=cluster.scheduler_address, block=(1, 2))
        with Client(cluster, set_as_default=False) as client:
            by_client = analyze_map(cube, scheduler=client, block=(1, 2))
    for r in (by_cluster, by_address, by_client):
        _same(r, reference)
    assert "distributed" in by_address.attrs["scheduler"]


def test_unknown_scheduler_is_refused_by_name(cube):
    with pytest.raises(SchedulerError, match="unknown scheduler 'gpu'"):
        analyze_map(cube, scheduler="gpu")


def _block_recording_pid(G, aux, *, record: str, **kwargs):
    """analyze_block that appends the pid of the process running it to ``record``."""
    import os

    from stm_andreev.analysis.maps_pixels import analyze_block

    with open(record, "a") as f:
        f.write(f"{os.getpid()}\n")
    return analyze_block(G, aux, **kwargs)


def test_two_local_workers_share_the_blocks_between_two_processes(cube, reference, tmp_path,
                                                                  monkeypatch):
    # Four blocks on two workers: Dask's default batches of 6 tasks sent all four to one
    # process (the other sat idle); one task at a time, both processes get blocks.
    import functools
    import os

    from stm_andreev.analysis import maps

    record = tmp_path / "pids.txt"
    monkeypatch.setattr(maps, "analyze_block",
                        functools.partial(_block_recording_pid, record=str(record)))
    by_pool = analyze_map(cube, workers=2, block=(1, 1))
    _same(by_pool, reference)
    pids = record.read_text().split()
    assert len(pids) == 4
    assert len(set(pids)) == 2, f"blocks ran in processes {pids}"
    assert str(os.getpid()) not in pids


def test_default_blocks_cut_a_small_map_into_enough_tasks():
    from stm_andreev.analysis.maps import map_blocks

    assert map_blocks((64, 64)) == (8, 8)
    assert map_blocks((24, 24)) == (4, 8)  # 18 blocks, not 9
    assert map_blocks((3, 3)) == (2, 2)
    assert map_blocks((1, 200)) == (1, 8)
    assert map_blocks((24, 24), (8, 8)) == (8, 8)  # as asked


def test_pool_results_are_each_pixels_own_analyze_spectrum(cube):
    # The naive loop: analyze_spectrum on each pixel's spectrum (fit_pixel), one by one.
    from stm_andreev.analysis.maps import fit_pixel

    by_pool = analyze_map(cube, workers=2, block=(1, 1))
    for iy in range(cube.sizes["y"]):
        for ix in range(cube.sizes["x"]):
            r = fit_pixel(cube, iy, ix).result
            assert by_pool["E_g"].values[iy, ix] == r.E_g_eV
            assert by_pool["E_g_sigma"].values[iy, ix] == r.E_g_err_eV
            assert by_pool["model"].values[iy, ix] == r.model
            assert by_pool["reason"].values[iy, ix] == r.quality_reason


def test_cluster_of_worker_processes_uses_both_and_gives_the_same_numbers(cube, reference):
    from distributed import Client, LocalCluster, get_task_stream

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
        with get_task_stream(client) as stream:
            by_cluster = analyze_map(cube, scheduler=client, block=(1, 1))
    _same(by_cluster, reference)
    workers = {t["worker"] for t in stream.data if "analyze_block" in str(t["key"])}
    assert len(workers) == 2, workers
