"""Small synthetic grid cubes for the map tests (the lab's InO-2 gap map, two-gap contact
spectra), cached per process: building one is cheap, analysing it is not."""

from __future__ import annotations

import functools

from stm_andreev.simulators.lab.grid_cube import synthetic_grid

N_BIAS = 201


@functools.lru_cache(maxsize=4)
def small_cube(ny: int = 3, nx: int = 3, seed: int = 1):
    """(cube, truth) of an ny x nx InO-2 map, 201 biases over +-1.5 mV, 0.5 % noise."""
    return synthetic_grid(ny, nx, N_BIAS, seed=seed, size_m=200e-9)
