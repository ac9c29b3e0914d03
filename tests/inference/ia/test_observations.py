"""Observation files (docs/ARCHITECTURE.md 3.3): reading, checking, selecting statistics."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.linalg import block_diag

from common.errors import InputError
from inference.ia.observations import Observation, read_observation, write_observation

EDGES = np.logspace(-1, 1.2, 6)
R = 0.5 * (EDGES[1:] + EDGES[:-1])


def write_h5(path: Path, **datasets) -> Path:
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            if name == "attrs":
                f.attrs.update(value)
            else:
                f[name] = value
    return path


def values(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "xi": 20 * R**-1.7,
        "omega": 0.1 * np.exp(-R) + 0.01 * rng.normal(size=5),
        "eta": 0.02 * np.exp(-R),
    }


def test_the_three_covariance_layouts(tmp_path: Path) -> None:
    v = values()
    rng = np.random.default_rng(1)
    m = rng.normal(size=(10, 10))
    joint = m @ m.T + np.eye(10)
    obs = read_observation(
        write_h5(
            tmp_path / "a.h5",
            r=R,
            r_edges=EDGES,
            xi=v["xi"],
            eta=v["eta"],
            cov=joint,
            attrs={"source": "TNG300", "redshift": 0.0},
        )
    )
    assert obs.statistics == ("xi", "eta") and obs.attrs == {"source": "TNG300", "redshift": "0.0"}
    np.testing.assert_array_equal(obs.cov, joint)
    np.testing.assert_array_equal(obs.data_vector(), np.concatenate([v["xi"], v["eta"]]))
    sub = obs.select(["eta"])
    np.testing.assert_array_equal(sub.cov, joint[5:, 5:])
    block = joint[:5, :5]
    err = np.linspace(0.01, 0.05, 5)
    obs = read_observation(
        write_h5(tmp_path / "b.h5", r=R, xi=v["xi"], omega=v["omega"], cov_xi=block, err_omega=err)
    )
    np.testing.assert_array_equal(obs.cov, block_diag(block, np.diag(err**2)))
    out = write_observation(obs, tmp_path / "c.h5")
    again = read_observation(out)
    np.testing.assert_array_equal(again.cov, obs.cov)
    assert again.digest() == obs.digest() != read_observation(tmp_path / "a.h5").digest()


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ({"xi": "nan"}, "bad.h5: /xi: contains NaN or infinite values"),
        ({"cov": "notpd"}, "bad.h5: /cov: expected a positive-definite covariance"),
        ({"cov": "asym"}, "bad.h5: /cov: expected a symmetric matrix"),
        ({"xi": "short"}, "bad.h5: /xi: expected shape (5,) like /r, got (4,)"),
        ({"r": "unsorted"}, "bad.h5: /r: expected finite, positive, strictly increasing radii"),
        ({"cov": None}, "bad.h5: /xi: no covariance (expected /cov, /cov_xi or /err_xi)"),
        ({"xi": None, "omega": None}, "bad.h5: expected at least one of /xi, /omega, /eta"),
    ],
)
def test_bad_files_are_refused_with_one_line(tmp_path: Path, datasets: dict, message: str) -> None:
    v = values()
    base = {"r": R, "xi": v["xi"], "omega": v["omega"], "cov": np.eye(10) * 0.01}
    special = {
        "nan": np.where(np.arange(5) == 2, np.nan, v["xi"]),
        "short": v["xi"][:4],
        "unsorted": R[::-1],
        "asym": np.eye(10) + np.triu(np.ones((10, 10)), 1) * 0.01,
        "notpd": np.diag([1.0] * 9 + [-1e-3]),
    }
    for name, kind in datasets.items():
        if kind is None:
            base.pop(name)
        else:
            base[name] = special[kind]
    if "omega" not in base and "xi" in base:
        base["cov"] = base.get("cov", np.eye(10))[:5, :5] if base.get("cov") is not None else None
    base = {k: x for k, x in base.items() if x is not None}
    with pytest.raises(InputError) as err:
        read_observation(write_h5(tmp_path / "bad.h5", **base))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_statistic_names_what_is_present(tmp_path: Path) -> None:
    obs = Observation(R, {"xi": values()["xi"]}, np.eye(5), name="tng.h5")
    with pytest.raises(
        InputError, match="tng.h5: /omega: missing; the fit uses xi,omega but the file has xi"
    ):
        obs.select(("xi", "omega"))
    with pytest.raises(InputError, match="--stats: gamma: expected a subset of xi,omega,eta"):
        obs.select(("gamma",))
