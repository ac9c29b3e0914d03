"""Observation files from published measurements: tables, .npy vectors with edges, jackknife counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import block_diag

from common.errors import InputError
from inference.ia.observation_import import import_tables, parse_edges
from inference.ia.observations import read_observation
from tests.inference.ia.test_observations import EDGES, R, values

IAEMU = str(Path(sys.executable).parent / "iaemu")


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
    iaemu = IAEMU
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


def test_npy_vector_with_edges_and_a_jackknife_count(tmp_path: Path) -> None:
    """The published 19-bin form: ω as a .npy vector on logspace(-1, 1.4, 20), a jackknife covariance from 125
    sub-volumes; the edges and the count are kept in the file."""
    edges = np.logspace(-1, 1.4, 20)
    rng = np.random.default_rng(3)
    w = 0.1 * np.exp(-edges[1:])
    m = rng.normal(size=(19, 19)) / 19
    cov = 1e-6 * (m @ m.T + np.eye(19))
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "cov.npy", cov)
    np.save(tmp_path / "edges.npy", edges)
    result = _import(tmp_path, "--omega", str(tmp_path / "w.npy"), "--cov", str(tmp_path / "cov.npy"),
                     "--r-edges", str(tmp_path / "edges.npy"), "--jackknife", "125")
    assert result.returncode == 0, result.stderr
    obs = read_observation(tmp_path / "obs.h5")
    assert obs.jackknife == 125 and obs.statistics == ("omega",)
    np.testing.assert_allclose(obs.r_edges, edges, rtol=1e-15)
    np.testing.assert_allclose(obs.r, 0.5 * (edges[1:] + edges[:-1]), rtol=1e-15)
    np.testing.assert_array_equal(obs.values["omega"], w)
    np.testing.assert_array_equal(obs.cov, cov)
    numbers = import_tables({"omega": tmp_path / "w.npy"}, [str(tmp_path / "cov.npy")],
                            r_edges=edges, out=tmp_path / "again.h5")
    assert numbers.jackknife is None and read_observation(tmp_path / "again.h5").jackknife is None


def _import(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([IAEMU, "observation", "import", *args, "--out", str(tmp_path / "obs.h5")],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("decreasing edges", "r_edges (--r-edges): expected positive, strictly increasing edges"),
        ("no edges", "w.npy: a data vector needs its bins: expected --r-edges"),
        ("no covariance", "w.npy: a data vector has no errors: expected a covariance (--cov)"),
        ("wrong size", "expected shape (4, 4) for omega, got (5, 5)"),
        ("not positive definite", "/cov: expected a positive-definite covariance"),
        ("too few sub-volumes", "jackknife: 6 sub-volumes for 4 data points"),
    ],
)
def test_bad_vectors_and_covariances_get_one_line_and_nothing_written(tmp_path: Path, case: str,
                                                                       fragment: str) -> None:
    np.save(tmp_path / "w.npy", np.array([0.1, 0.05, 0.02, 0.01]))
    np.save(tmp_path / "good.npy", 1e-4 * np.eye(4))
    np.save(tmp_path / "big.npy", 1e-4 * np.eye(5))
    bad = 1e-4 * np.eye(4)
    bad[0, 1] = bad[1, 0] = 2e-4
    np.save(tmp_path / "bad.npy", bad)
    edges = ",".join(str(x) for x in EDGES[:5])
    args = {
        "decreasing edges": ["--r-edges", "0.1,0.3,0.2,0.5,0.9", "--cov", str(tmp_path / "good.npy")],
        "no edges": ["--cov", str(tmp_path / "good.npy")],
        "no covariance": ["--r-edges", edges],
        "wrong size": ["--r-edges", edges, "--cov", f"omega={tmp_path / 'big.npy'}"],
        "not positive definite": ["--r-edges", edges, "--cov", str(tmp_path / "bad.npy")],
        "too few sub-volumes": ["--r-edges", edges, "--cov", str(tmp_path / "good.npy"), "--jackknife", "6"],
    }[case]
    result = _import(tmp_path, "--omega", str(tmp_path / "w.npy"), *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and fragment in lines[0], result.stderr
    assert not (tmp_path / "obs.h5").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".obs.h5")]


def test_edges_as_numbers_or_as_numpys_logspace() -> None:
    """``--r-edges`` takes the TNG tables' own description of their bins, ``logspace(-1, 1.5, 15)``."""
    np.testing.assert_array_equal(parse_edges("logspace(-1, 1.5, 15)"), np.logspace(-1, 1.5, 15))
    np.testing.assert_array_equal(parse_edges("0.1,0.2, 0.4"), [0.1, 0.2, 0.4])
    for bad in ("linspace(0, 1, 3)", "0.1,x"):
        with pytest.raises(InputError, match=r"--r-edges: .*expected EDGES.npy, comma-separated numbers or "
                                              r"logspace\(lo, hi, n\)"):
            parse_edges(bad)
    for bad in ("logspace(-1, 1.5)", "logspace(-1, 1.5, 4.5)", "logspace(-1, 1.5, -2)", "logspace(1, 1, 5)"):
        with pytest.raises(InputError, match=r"--r-edges: .*expected logspace \[lo, hi, n\] with numbers "
                                              r"lo < hi and an integer n of 2..10000"):
            parse_edges(bad)
