"""Symmetry discovery (docs/ARCHITECTURE.md 4.6): LieGAN recovers known symmetries of small synthetic sets;
the analysis of a basis (invariant form, signature, similarities) on analytic algebras; LorentzNet with a
metric."""

import numpy as np
import pytest
import scipy.linalg
import torch

from catalogs.jets.rootio import write_jets
from common.errors import InputError
from emulators.taggers.lorentz import toy_jets, transform
from emulators.taggers.registry import build_tagger
from emulators.taggers.symmetry import (
    MOMENTUM_SCALE,
    LieGANSettings,
    LieGenerator,
    correlation_penalty,
    fit_liegan,
    identity_penalty,
    read_leading_constituents,
)
from emulators.taggers.symmetry_analysis import (
    MINKOWSKI,
    analyse_basis,
    invariant_form,
    load_metric,
    lorentz_algebra,
    matrix_cosine,
)

from .tagger_files import one_thread, toy_branches  # noqa: F401 (one_thread: autouse fixture)

# ---------------------------------------------------------------- discovery on synthetic sets


def test_so2_discovered_from_a_rotation_invariant_label() -> None:
    """Gaussian points in the plane, label |x| < 1: the one generator is the rotation [[0, -1], [1, 0]]."""
    x = np.random.default_rng(0).normal(size=(2000, 1, 2))
    labels = (np.linalg.norm(x[:, 0], axis=-1) < 1).astype(np.int64)
    settings = LieGANSettings(generators=1, epochs=40, hidden=64, sigma=1.0, seed=0)
    result = fit_liegan(x.astype(np.float32), labels, 2, settings, quiet=True)
    assert result.basis.shape == (1, 2, 2)
    assert matrix_cosine(result.basis[0], [[0, -1], [1, 0]]) >= 0.95


def test_rotation_about_z_discovered_in_three_dimensions() -> None:
    """Isotropic Gaussian points, label x² + y² < 1.5 z² (a cone about z): only rotations about z keep the
    joint distribution of (point, label), so the one generator is L_z (the points alone have all of SO(3))."""
    x = np.random.default_rng(0).normal(size=(2000, 1, 3))
    labels = (x[:, 0, 0] ** 2 + x[:, 0, 1] ** 2 < 1.5 * x[:, 0, 2] ** 2).astype(np.int64)
    settings = LieGANSettings(generators=1, epochs=80, hidden=64, sigma=1.0, seed=0)
    result = fit_liegan(x.astype(np.float32), labels, 2, settings, quiet=True)
    l_z = np.zeros((3, 3))
    l_z[1, 0], l_z[0, 1] = 1.0, -1.0
    assert matrix_cosine(result.basis[0], l_z) >= 0.95
    l_x = np.zeros((3, 3))
    l_x[2, 1], l_x[1, 2] = 1.0, -1.0
    assert matrix_cosine(result.basis[0], l_x) < 0.3


def small_set(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(1).normal(size=(n, 1, 2)).astype(np.float32)
    return x, (np.linalg.norm(x[:, 0], axis=-1) < 1).astype(np.int64)


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path) -> None:
    x, labels = small_set()
    settings = dict(generators=2, batch_size=32, hidden=16, seed=3)
    whole = fit_liegan(x, labels, 2, LieGANSettings(epochs=4, **settings), quiet=True)
    ckpt = tmp_path / "run.ckpt"
    first = fit_liegan(x, labels, 2, LieGANSettings(epochs=2, **settings), checkpoint=ckpt, quiet=True)
    assert ckpt.is_file() and not np.allclose(first.basis, whole.basis)
    resumed = fit_liegan(x, labels, 2, LieGANSettings(epochs=4, **settings), checkpoint=ckpt, quiet=True)
    assert resumed.epochs_run == 2 and len(resumed.history["d_real"]) == 4
    np.testing.assert_array_equal(resumed.basis, whole.basis)
    other = fit_liegan(x, labels, 2, LieGANSettings(epochs=4, **{**settings, "seed": 4}), checkpoint=ckpt,
                       quiet=True)
    assert other.epochs_run == 4  # a checkpoint of other settings is not resumed
    shorter = fit_liegan(x, labels, 2, LieGANSettings(epochs=1, **{**settings, "seed": 4}), checkpoint=ckpt,
                         quiet=True)
    assert shorter.epochs_run == 1 and len(shorter.history["d_real"]) == 1  # nor one that went further


def test_bad_settings_and_too_few_samples_are_input_errors() -> None:
    with pytest.raises(InputError, match="generators"):
        LieGANSettings(generators=0)
    with pytest.raises(InputError, match="sigma"):
        LieGANSettings(sigma=-1.0)
    with pytest.raises(InputError, match="device"):
        LieGANSettings(device="tpu")
    x, labels = small_set(20)
    with pytest.raises(InputError, match="fewer than one batch"):
        fit_liegan(x, labels, 2, LieGANSettings(batch_size=32), quiet=True)


def test_generator_acts_on_every_vector_of_a_sample_alike() -> None:
    torch.manual_seed(0)
    gen = LieGenerator(4, 3, sigma=0.5).double()
    with torch.no_grad():
        gen.basis.copy_(torch.as_tensor(lorentz_algebra()[[0, 3, 5]]))
    v = torch.randn(5, 1, 4, dtype=torch.float64)
    gx = gen(torch.cat([v, 2 * v], 1).double(), torch.Generator().manual_seed(1))
    torch.testing.assert_close(gx[:, 1], 2 * gx[:, 0])
    eta = torch.as_tensor(MINKOWSKI)
    norms = lambda p: torch.einsum("bi,ij,bj->b", p, eta, p)  # noqa: E731
    torch.testing.assert_close(norms(gx[:, 0]), norms(v[:, 0]))  # Lorentz generators keep p²
    assert (gx[:, 0] - v[:, 0]).abs().max() > 0.1
    assert float(gen.normalized_basis().detach().pow(2).sum((-2, -1)).sub(4).abs().max()) < 1e-5


def test_penalties() -> None:
    x = torch.randn(8, 2, 3)
    assert float(identity_penalty(x, x)) == pytest.approx(1.0)
    assert float(identity_penalty(x, 3 * x)) == pytest.approx(1.0)  # dilations are penalised too
    assert float(identity_penalty(x, -x)) == pytest.approx(1.0)
    algebra = torch.as_tensor(lorentz_algebra())
    assert float(correlation_penalty(algebra)) == pytest.approx(0.0, abs=1e-12)
    assert float(correlation_penalty(torch.stack([algebra[0], 2 * algebra[0]]))) == pytest.approx(1.0)


def test_read_leading_constituents_scales_by_a_constant(tmp_path) -> None:
    import awkward as ak

    path = tmp_path / "jets.root"
    branches = toy_branches(30, True, seed=2)
    write_jets(path, [branches])
    x, labels, names = read_leading_constituents([path], 2)
    assert x.shape == (30, 2, 4) and set(names) == {"label_QCD", "label_Tbqq"}
    assert np.all(labels == names.index("label_Tbqq"))

    def leading(name: str) -> np.ndarray:  # each jet's two leading-pT constituents (written unordered)
        px, py = ak.to_list(branches["part_px"]), ak.to_list(branches["part_py"])
        rows = zip(ak.to_list(branches[name]), px, py, strict=True)
        return np.array([[v[k] for k in sorted(range(len(v)), key=lambda k: -np.hypot(x[k], y[k]))[:2]]
                         for v, x, y in rows]) / MOMENTUM_SCALE

    energy, px = leading("part_energy"), leading("part_px")
    np.testing.assert_allclose(x[..., 0], energy, rtol=1e-6)
    np.testing.assert_allclose(x[..., 1], px, rtol=1e-6)


# ---------------------------------------------------------------- analysis of analytic bases


def test_lorentz_algebra_gives_the_minkowski_form() -> None:
    basis = lorentz_algebra()
    eta = MINKOWSKI
    for gen in basis:
        np.testing.assert_allclose(gen.T @ eta + eta @ gen, 0.0)
    mixed = np.einsum("ij,jab->iab", np.random.default_rng(0).normal(size=(7, 6)), basis)  # 7 in so(1,3)
    for b in (basis, 3.0 * basis, mixed):
        out = analyse_basis(b)
        form = out["invariant_form"]
        np.testing.assert_allclose(form["A"], eta, atol=1e-9)
        assert form["signature"] == {"positive": 1, "negative": 3, "zero": 0}
        assert form["exact_forms"] == 1
        assert form["singular_values"][0] < 1e-9 and form["singular_values"][1] > 0.5
        assert out["minkowski_cosine"] == pytest.approx(1.0)
        assert out["so13_subspace_similarity"] == pytest.approx(1.0)
        assert out["generators_in_so13"] == pytest.approx(1.0)


def test_conjugated_lorentz_algebra_gives_the_conjugated_form() -> None:
    """L = S⁻¹ K S for K in so(1,3) keeps A = Sᵀ η S: a non-diagonal Lorentzian form, found up to scale."""
    s = np.eye(4) + 0.3 * np.random.default_rng(2).normal(size=(4, 4))
    basis = np.linalg.inv(s) @ lorentz_algebra() @ s
    target = s.T @ MINKOWSKI @ s
    form = invariant_form(basis, MINKOWSKI)
    assert matrix_cosine(form.A, target) == pytest.approx(1.0)
    assert form.dimension == 1
    out = analyse_basis(basis)
    assert out["invariant_form"]["signature"] == {"positive": 1, "negative": 3, "zero": 0}
    assert out["minkowski_cosine"] < 0.99 and out["so13_subspace_similarity"] < 0.99


def test_so3_inside_4x4_leaves_a_two_dimensional_space_of_forms() -> None:
    """Rotations alone keep every a e₀e₀ᵀ + b diag(0, 1, 1, 1): a 2-D form space, `A` one element of it."""
    rotations = lorentz_algebra()[:3]
    form = invariant_form(rotations, MINKOWSKI)
    assert form.dimension == 2 and form.singular_values[1] < 1e-9
    flat = form.forms.reshape(2, -1)
    for member in (MINKOWSKI, np.eye(4), np.diag([1.0, 0, 0, 0])):
        v = member.ravel() / np.linalg.norm(member)
        assert np.linalg.norm(flat @ v) == pytest.approx(1.0)  # inside the span of the forms
    for gen in rotations:
        np.testing.assert_allclose(gen.T @ form.A + form.A @ gen, 0.0, atol=1e-9)
    out = analyse_basis(rotations)
    assert out["invariant_form"]["exact_forms"] == 2
    assert out["so13_subspace_similarity"] == pytest.approx(0.5)  # half of so(1,3)
    assert out["generators_in_so13"] == pytest.approx(1.0)  # but all of it inside


def test_random_bases_are_unlike_the_lorentz_algebra() -> None:
    rng = np.random.default_rng(5)
    outs = [analyse_basis(rng.normal(size=(7, 4, 4))) for _ in range(20)]
    assert max(o["so13_subspace_similarity"] for o in outs) < 0.7
    assert max(o["generators_in_so13"] for o in outs) < 0.7
    assert min(o["invariant_form"]["singular_values"][0] for o in outs) > 0.5  # no form is nearly invariant
    assert np.mean([o["minkowski_cosine"] for o in outs]) < 0.5


def test_load_metric_reads_the_form_and_refuses_other_files(tmp_path) -> None:
    import json

    good = tmp_path / "symmetry.json"
    good.write_text(json.dumps(analyse_basis(lorentz_algebra())))
    np.testing.assert_allclose(np.reshape(load_metric(good), (4, 4)), MINKOWSKI, atol=1e-9)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"invariant_form": {"A": [[1, 2], [2, 1]]}}))
    with pytest.raises(InputError, match="invariant_form.A"):
        load_metric(bad)
    bad.write_text("not json")
    with pytest.raises(InputError, match="invariant_form.A"):
        load_metric(bad)


# ---------------------------------------------------------------- LorentzNet with a metric

SMALL = {"hidden": 16, "layers": 3, "c_weight": 0.5}


def lorentznet(**extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_tagger("lorentznet", {**SMALL, **extra}).double().eval()


def test_minkowski_metric_reproduces_the_default_model_exactly() -> None:
    p, mask = toy_jets(6, 12, torch.Generator().manual_seed(1))
    default, explicit = lorentznet(), lorentznet(metric=MINKOWSKI.ravel().tolist())
    assert explicit.config.metric == tuple(MINKOWSKI.ravel()) and default.config.metric is None
    assert default.state_dict().keys() == explicit.state_dict().keys()
    with torch.no_grad():
        assert torch.equal(default(p, mask), explicit(p, mask))


def test_lorentznet_with_a_metric_is_invariant_under_its_group() -> None:
    """A = Sᵀ η S is kept by g = exp(S⁻¹ K S), K in so(1,3): the model with metric A is invariant under g, the
    Minkowski model is not."""
    rng = np.random.default_rng(3)
    s = np.eye(4) + 0.3 * rng.normal(size=(4, 4))
    a = s.T @ MINKOWSKI @ s
    p, mask = toy_jets(8, 16, torch.Generator().manual_seed(4))
    coeffs = rng.normal(scale=0.5, size=(len(p), 6))
    g = np.stack([scipy.linalg.expm(np.linalg.inv(s) @ np.einsum("k,kab->ab", c, lorentz_algebra()) @ s)
                  for c in coeffs])
    np.testing.assert_allclose(np.transpose(g, (0, 2, 1)) @ a @ g, np.broadcast_to(a, g.shape), atol=1e-9)
    p2 = transform(torch.as_tensor(g), p)

    def rel_change(model: torch.nn.Module) -> float:
        with torch.no_grad():
            before, after = model(p, mask), model(p2, mask)
        assert float(before.std()) > 1e-6
        return float((before - after).abs().max() / before.std())

    assert rel_change(lorentznet(metric=a.ravel().tolist())) < 1e-6
    assert rel_change(lorentznet()) > 1e-2


def test_lorentznet_refuses_a_malformed_metric() -> None:
    with pytest.raises(InputError, match="metric"):
        build_tagger("lorentznet", {"metric": [1.0] * 15})
    asymmetric = np.eye(4)
    asymmetric[0, 1] = 0.5
    with pytest.raises(InputError, match="metric"):
        build_tagger("lorentznet", {"metric": asymmetric.ravel().tolist()})
