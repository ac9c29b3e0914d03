"""Minkowski geometry: products against the explicit formula, random transformations are proper
orthochronous Lorentz transformations reaching γ ≈ 10, reference vectors are light-like/time-like."""

import math

import torch

from emulators.taggers.lorentz import (
    boost,
    from_pxpypze,
    minkowski_dot,
    pairwise_dots,
    psi,
    random_lorentz,
    random_rotation,
    reference_vectors,
    toy_jets,
    transform,
)

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


def test_minkowski_products_match_the_explicit_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=gen, dtype=torch.float64), torch.randn(5, 4, generator=gen,
                                                                              dtype=torch.float64)
    explicit = a[:, 0] * b[:, 0] - a[:, 1] * b[:, 1] - a[:, 2] * b[:, 2] - a[:, 3] * b[:, 3]
    torch.testing.assert_close(minkowski_dot(a, b), explicit, rtol=1e-14, atol=1e-14)
    x = torch.randn(2, 6, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(pairwise_dots(x), minkowski_dot(x[:, :, None], x[:, None, :]))
    assert torch.equal(from_pxpypze(torch.tensor([1.0, 2.0, 3.0, 4.0])), torch.tensor([4.0, 1.0, 2.0, 3.0]))
    assert psi(torch.tensor(-(math.e - 1))).item() == -1.0


def test_random_transformations_are_proper_orthochronous_lorentz() -> None:
    gen = torch.Generator().manual_seed(1)
    lam = random_lorentz(2000, gen, max_gamma=10.0)
    torch.testing.assert_close(lam.transpose(-1, -2) @ ETA @ lam, ETA.expand(2000, 4, 4), rtol=0, atol=1e-11)
    torch.testing.assert_close(torch.linalg.det(lam), torch.ones(2000, dtype=torch.float64))
    gamma = lam[:, 0, 0]
    assert gamma.min() >= 1.0 and gamma.max() <= 10.0 + 1e-9 and gamma.max() > 9.0
    rot = random_rotation(10, gen, about_z=True)
    assert torch.equal(rot[:, 3], torch.tensor([0.0, 0, 0, 1], dtype=torch.float64).expand(10, 4))


def test_boost_takes_a_particle_at_rest_to_the_expected_momentum() -> None:
    direction = torch.tensor([[0.6, 0.0, 0.8]], dtype=torch.float64)
    rapidity = torch.tensor([math.acosh(10.0)], dtype=torch.float64)
    moved = transform(boost(direction, rapidity), torch.tensor([[[173.0, 0, 0, 0]]], dtype=torch.float64))
    beta_gamma = math.sqrt(10.0**2 - 1)
    expected = torch.tensor([[[1730.0, 173.0 * beta_gamma * 0.6, 0.0, 173.0 * beta_gamma * 0.8]]],
                            dtype=torch.float64)
    torch.testing.assert_close(moved, expected, rtol=1e-12, atol=1e-9)


def test_reference_vectors_and_toy_jets() -> None:
    refs, codes = reference_vectors(("beam", "time"), dtype=torch.float64)
    assert codes == [1, 1, 2]
    torch.testing.assert_close(minkowski_dot(refs, refs), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    p, mask = toy_jets(50, 30, torch.Generator().manual_seed(2))
    mass_sq = minkowski_dot(p, p)
    assert (mass_sq[mask] > -1e-6).all() and (mass_sq[mask] < 0.26).all()
    assert (p[~mask] == 0).all() and (mask.sum(1) >= 15).all()
