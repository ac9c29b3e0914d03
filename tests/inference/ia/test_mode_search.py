"""The multi-start mode search finds the global mode of a multimodal density that random starts miss."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from inference.ia.mode_search import ModeSearch, find_mode, mode_finder

LO, HI = np.array([-1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0])
NARROW, WIDE = np.array([0.7, -0.6, 0.5]), np.array([-0.4, 0.3, -0.2])


def loglike(theta, data, cov):
    """A narrow, tall peak (sd 0.02, height data[0]) and a wide, low one (sd 0.1): the narrow one is the
    global mode but holds a tiny basin of the box."""
    narrow = data[0] - 0.5 * jnp.sum((theta - NARROW) ** 2) / 0.02**2
    wide = -0.5 * jnp.sum((theta - WIDE) ** 2) / 0.1**2
    return jnp.logaddexp(narrow, wide) + 0.0 * cov.sum()


def test_finds_the_narrow_global_mode() -> None:
    found = find_mode(loglike, LO, HI, jnp.asarray([20.0]), jnp.zeros((1, 1)), seed=1)
    np.testing.assert_allclose(found, NARROW, atol=2e-3)


def test_batched_datasets_get_their_own_modes() -> None:
    # height -20: the narrow peak is now lower than the wide one, so the wide mode is the global one
    data = jnp.asarray([[20.0], [-20.0]])
    found = find_mode(loglike, LO, HI, data, jnp.zeros((2, 1, 1)), batch=True, seed=2,
                      settings=ModeSearch(n_draws=4096, n_starts=16, steps=400))
    np.testing.assert_allclose(found[0], NARROW, atol=2e-3)
    np.testing.assert_allclose(found[1], WIDE, atol=2e-2)  # the mode in logit coordinates, near WIDE


def test_a_finder_compiles_once_for_many_datasets() -> None:
    traces = []

    def counted(theta, data, cov):
        traces.append(1)  # runs when JAX traces the search, not when it runs it
        return loglike(theta, data, cov)

    find = mode_finder(counted, LO, HI, settings=ModeSearch(n_draws=2048, n_starts=8, steps=300))
    first = find(jnp.asarray([20.0]), jnp.zeros((1, 1)), 1)
    n_traces = len(traces)
    second = find(jnp.asarray([-20.0]), jnp.zeros((1, 1)), 1)
    assert len(traces) == n_traces  # the second dataset reused the compiled search
    np.testing.assert_allclose(first, NARROW, atol=2e-3)
    np.testing.assert_allclose(second, WIDE, atol=2e-2)
