"""The shipped default emulator: within 5 MB, loadable, with its metrics; `iaemu fit` uses it when
--emulator is omitted; installing refuses oversized or incomplete artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import emulators.ia.default_emulator as default
from common.errors import InputError
from tests.inference.ia.test_fit import iaemu


def test_shipped_emulator_is_small_complete_and_loads() -> None:
    from inference.ia.emulator_jax import load_jax_emulator

    path = default.default_emulator_path()
    size = sum((path / name).stat().st_size for name in (*default.ARTIFACT_FILES, "metrics.json"))
    assert size <= default.MAX_BYTES
    emu = load_jax_emulator(path)  # checks the weights' SHA-256 against emulator.json
    metrics = default.default_emulator_metrics()
    assert set(metrics["summary"]) == set(emu.statistics) == {"xi", "omega", "eta"}
    data = json.loads((path / "emulator.json").read_text())["training"]["data"]
    assert data["rows_used"] >= 1000 and metrics["rows"] >= 100
    assert metrics["test_sha256"] != data["sha256"]  # evaluated on an independent file
    corr = emu.noise_correlation  # one realisation's ξ noise is correlated between neighbouring bins
    b = emu.r.size
    assert corr.shape == (3 * b, 3 * b) and np.linalg.eigvalsh(corr).min() > 0
    assert np.median(np.diag(corr[:b, :b], 1)) > 0.3


def test_fit_without_emulator_uses_the_shipped_one(tmp_path: Path) -> None:
    import jax.numpy as jnp

    from inference.ia.emulator_jax import load_jax_emulator
    from inference.ia.observations import Observation, write_observation

    emu = load_jax_emulator(default.default_emulator_path())
    pred = emu.predict(jnp.asarray(0.5 * (emu.prior_lo + emu.prior_hi)))
    mean = np.asarray(pred.mean, float)
    vals = {s: mean[i] for i, s in enumerate(emu.statistics)}
    cov = np.diag((0.05 * np.abs(mean) + 1e-3).reshape(-1) ** 2)
    write_observation(Observation(emu.r, vals, cov, emu.r_edges, {"source": "test"}), tmp_path / "obs.h5")
    out = tmp_path / "fit"
    result = iaemu("fit", "--tng", str(tmp_path / "obs.h5"), "--out", str(out), "--chains", "1",
                   "--warmup", "30", "--samples", "30", "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["model_hash"] == emu.digest()


def test_show_prints_the_shipped_covariance_scale() -> None:
    entry = json.loads((default.default_emulator_path() / "emulator.json").read_text())["emulator_error"]
    scale = entry["covariance_scale"]
    result = iaemu("default-emulator", "show")
    assert result.returncode == 0, result.stderr
    if isinstance(scale["injections"], list):  # measured at once on several validations
        steps = [str(n) for n in scale["injections"]]
    else:  # measured in steps, one validation each
        steps, step = [], scale
        while step:  # last first
            steps.insert(0, str(step["injections"]))
            step = step.get("previous")
    assert (f"emulator error measured on {entry['rows']} independent rows; fit covariance scale κ "
            f"{scale['value']:.4g} from {' + '.join(steps)} injections") in result.stdout
    widened = {n: d for n, d in (scale.get("parameter_variance") or {}).items() if d > 0}
    for name, variance in widened.items():
        assert f"{name} {variance ** 0.5:.3g}" in result.stdout
    for name, (c68, c95) in (scale.get("coverage_68_95") or {}).items():  # calibrations that store it
        assert f"{name} {c68:.3f}/{c95:.3f}" in result.stdout


def test_missing_default_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default, "DEFAULT_EMULATOR_DIR", tmp_path / "none")
    with pytest.raises(InputError, match="no default emulator in .* pass --emulator DIR"):
        default.default_emulator_path()


def test_install_refuses_oversized_artifact_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "emu"
    src.mkdir()
    (src / "emulator.json").write_text("{}")
    with open(src / "weights.safetensors", "wb") as f:
        f.truncate(default.MAX_BYTES + 1)
    (tmp_path / "metrics.json").write_text("{}")
    dest = tmp_path / "dest"
    with pytest.raises(InputError, match="must stay within 5 MB"):
        default.install_default_emulator(src, tmp_path / "metrics.json", dest)
    assert not dest.exists() and not list(tmp_path.glob(".dest*"))
    (src / "weights.safetensors").write_bytes(b"small")
    assert default.install_default_emulator(src, tmp_path / "metrics.json", dest) == dest
    assert sorted(p.name for p in dest.iterdir()) == ["emulator.json", "metrics.json", "weights.safetensors"]


def test_show_prints_the_coverage_a_calibration_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An artifact whose calibration stores the coverage of its calibration fits: show prints each
    parameter's 68%/95% pair as stored, in the artifact's parameter order."""
    import shutil

    from cli.ia.default_emulator import show

    copy = tmp_path / "default"
    shutil.copytree(default.default_emulator_path(), copy)
    doc = json.loads((copy / "emulator.json").read_text())
    names = doc["param_names"]
    stored = {name: [round(0.6 + 0.01 * i, 3), round(0.9 + 0.005 * i, 3)] for i, name in enumerate(names)}
    doc["emulator_error"]["covariance_scale"]["coverage_68_95"] = stored
    (copy / "emulator.json").write_text(json.dumps(doc))
    monkeypatch.setattr(default, "DEFAULT_EMULATOR_DIR", copy)
    show()
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("their coverage"))
    assert line.split(": ", 1)[1] == ", ".join(f"{n} {a:.3f}/{b:.3f}" for n, (a, b) in stored.items())
