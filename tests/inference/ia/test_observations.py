"""Observation files (contract 3.3): reading, checking, and importing from text tables."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.linalg import block_diag

from common.errors import InputError
from inference.ia.observations import (
    Observation,
    bin_mapping,
    import_tables,
    read_observation,
    write_observation,
)

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


def test_bins_must_agree_unless_interpolation_is_asked(tmp_path: Path) -> None:
    obs = Observation(R, {"eta": values()["eta"]}, np.eye(5), EDGES, name="tng.h5")
    assert bin_mapping(obs, R * (1 + 1e-5), None, interpolate=False) is None  # printed precision is fine
    emu_edges = np.logspace(-1, 1.2, 21)
    emu_r = 0.5 * (emu_edges[1:] + emu_edges[:-1])
    with pytest.raises(InputError) as err:
        bin_mapping(obs, emu_r, emu_edges, interpolate=False, emulator_name="emu/")
    assert (
        f"tng.h5 has 5 bins, r = {R[0]:.4g}..{R[-1]:.4g} Mpc/h (edges 0.1..15.85); emu/ has 20 bins, "
        f"r = {emu_r[0]:.4g}..{emu_r[-1]:.4g} Mpc/h (edges 0.1..15.85)"
    ) in str(err.value)
    w = bin_mapping(obs, emu_r, emu_edges, interpolate=True)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(
        w @ np.log(emu_r), np.log(R), rtol=1e-12
    )  # exact for functions linear in log r


def table(path: Path, header: str, r: np.ndarray, value: np.ndarray, err: np.ndarray) -> str:
    rows = "\n".join(f"{a:.6e} {b:.8e} {c:.6e}" for a, b, c in zip(r, value, err, strict=True))
    path.write_text(f"{header}\n{rows}\n")
    return str(path)


def test_import_tables_with_and_without_covariance(tmp_path: Path) -> None:
    v = values()
    errs = {s: 0.05 * np.abs(v[s]) + 1e-3 for s in v}
    files = {
        s: table(tmp_path / f"{s}.txt", f"# r {col} err", R, v[s], errs[s])
        for s, col in (("xi", "xi"), ("omega", "ed"), ("eta", "ee"))
    }
    obs = import_tables(files, out=tmp_path / "diag.h5", attrs={"source": "TNG300-1"})
    back = read_observation(tmp_path / "diag.h5")
    np.testing.assert_allclose(back.values["omega"], v["omega"], rtol=1e-7)
    np.testing.assert_allclose(
        back.cov, np.diag(np.concatenate([errs[s] for s in ("xi", "omega", "eta")]) ** 2), rtol=1e-5
    )
    assert back.attrs == {"source": "TNG300-1"} and obs.statistics == ("xi", "omega", "eta")
    corr = 0.3 ** np.abs(np.subtract.outer(np.arange(5), np.arange(5)))
    np.save(tmp_path / "cov_omega.npy", corr * np.outer(errs["omega"], errs["omega"]))
    back = import_tables(
        {"omega": files["omega"], "eta": files["eta"]},
        [f"omega={tmp_path / 'cov_omega.npy'}"],
        out=tmp_path / "named.h5",
    )
    np.testing.assert_allclose(back.cov[:5, :5], corr * np.outer(errs["omega"], errs["omega"]), rtol=1e-12)
    np.testing.assert_allclose(back.cov[5:, 5:], np.diag(errs["eta"] ** 2), rtol=1e-5)
    assert back.cov[0, 5] == 0.0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("header", "xi.txt: header: expected the line 'r xi err'"),
        ("nan", "xi.txt: contains NaN or infinite values"),
        ("swapped", "err: disagrees with the square root of the covariance's diagonal"),
        ("radii", "omega.txt: r: differs from"),
        ("notpd", "/cov: expected a positive-definite covariance"),
    ],
)
def test_import_refuses_bad_tables_and_writes_nothing(tmp_path: Path, case: str, message: str) -> None:
    v = values()
    err = {s: 0.05 * np.abs(v[s]) + 1e-3 for s in v}
    xi_header = "r ed err" if case == "header" else "r xi err"
    xi = v["xi"].copy()
    if case == "nan":
        xi[1] = np.nan
    files = {
        "xi": table(tmp_path / "xi.txt", xi_header, R, xi, err["xi"]),
        "omega": table(
            tmp_path / "omega.txt", "r ed err", R * (1.5 if case == "radii" else 1), v["omega"], err["omega"]
        ),
    }
    covs = None
    if case == "swapped":
        np.save(tmp_path / "c.npy", block_diag(np.diag(err["omega"] ** 2), np.diag(err["xi"] ** 2)))
        covs = [str(tmp_path / "c.npy")]
    if case == "notpd":
        bad = np.diag(np.concatenate([err["xi"], err["omega"]]) ** 2)
        bad[0, 1] = bad[1, 0] = 2.0 * np.sqrt(bad[0, 0] * bad[1, 1])
        np.save(tmp_path / "c.npy", bad)
        covs = [str(tmp_path / "c.npy")]
    with pytest.raises(InputError, match=message.replace("(", "\\(").replace(")", "\\)")):
        import_tables(files, covs, out=tmp_path / "obs.h5")
    assert not (tmp_path / "obs.h5").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".obs.h5")]


def test_observation_import_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    iaemu = str(Path(sys.executable).parent / "iaemu")
    v = values()
    err = {s: 0.05 * np.abs(v[s]) + 1e-3 for s in v}
    xi = table(tmp_path / "xi.txt", "r xi err", R, v["xi"], err["xi"])
    ee = table(tmp_path / "ee.txt", "r ee err", R, v["eta"], err["eta"])
    joint = np.diag(np.concatenate([err["xi"], err["eta"]]) ** 2)
    joint[0, 5] = joint[5, 0] = 0.5 * np.sqrt(joint[0, 0] * joint[5, 5])
    np.save(tmp_path / "joint.npy", joint)
    result = subprocess.run(
        [
            iaemu,
            "observation",
            "import",
            "--xi",
            xi,
            "--eta",
            ee,
            "--cov",
            str(tmp_path / "joint.npy"),
            "--source",
            "TNG300-1",
            "--redshift",
            "0.5",
            "--out",
            str(tmp_path / "obs.h5"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    obs = read_observation(tmp_path / "obs.h5")
    assert obs.statistics == ("xi", "eta") and obs.attrs == {"source": "TNG300-1", "redshift": "0.5"}
    np.testing.assert_allclose(obs.cov, joint, rtol=1e-12)
    bad = subprocess.run(
        [iaemu, "observation", "import", "--xi", ee, "--out", str(tmp_path / "bad.h5")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"error: {ee}: header: expected the line 'r xi err'"
    ]
    assert not (tmp_path / "bad.h5").exists()
