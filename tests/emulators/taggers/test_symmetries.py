"""Symmetries of the three taggers in float64 (docs/ARCHITECTURE.md 4.6): LorentzNet and L-GATr are invariant
under random proper orthochronous Lorentz transformations (γ up to 10); with beam references only under
rotations about the beam; every model is invariant under permutations and zero padding; the PFN baseline is
not boost-invariant."""

import pytest
import torch

from emulators.taggers.lorentz import random_lorentz, random_rotation, toy_jets, transform
from emulators.taggers.registry import build_tagger

from .tagger_files import one_thread  # noqa: F401 (autouse fixture)

SMALL = {"lorentznet": {"hidden": 16, "layers": 3, "c_weight": 0.5},
         "lgatr": {"blocks": 2, "hidden_mv": 4, "hidden_s": 8, "heads": 2},
         "pfn": {"hidden": 32, "latent": 32}}


def make(name: str, **extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_tagger(name, {**SMALL[name], **extra}).double().eval()


@pytest.fixture(scope="module")
def jets() -> tuple[torch.Tensor, torch.Tensor]:
    return toy_jets(8, 24, torch.Generator().manual_seed(3))


def rel_change(model: torch.nn.Module, p: torch.Tensor, mask: torch.Tensor, p2: torch.Tensor,
               mask2: torch.Tensor | None = None) -> float:
    """Largest change of the logits, relative to their spread across jets (so a constant model fails)."""
    with torch.no_grad():
        a, b = model(p, mask), model(p2, mask if mask2 is None else mask2)
    spread = float(a.std())
    assert spread > 1e-6, "the model barely depends on its input: the test would be vacuous"
    return float((a - b).abs().max()) / spread


@pytest.mark.parametrize("name", ["lorentznet", "lgatr"])
def test_lorentz_invariance_without_references(name, jets) -> None:
    p, mask = jets
    lam = random_lorentz(len(p), torch.Generator().manual_seed(4), max_gamma=10.0)
    assert rel_change(make(name), p, mask, transform(lam, p)) < 1e-6


@pytest.mark.parametrize("name", ["lorentznet", "lgatr"])
def test_beam_references_keep_only_rotations_about_the_beam(name, jets) -> None:
    p, mask = jets
    gen = torch.Generator().manual_seed(5)
    model = make(name, references=["beam"])
    assert rel_change(model, p, mask, transform(random_rotation(len(p), gen, about_z=True), p)) < 1e-6
    assert rel_change(model, p, mask, transform(random_lorentz(len(p), gen), p)) > 1e-2


@pytest.mark.parametrize("name", ["lorentznet", "lgatr", "pfn"])
def test_permutation_and_zero_padding_invariance(name, jets) -> None:
    p, mask = jets
    model = make(name)
    gen = torch.Generator().manual_seed(6)
    order = torch.randperm(p.shape[1], generator=gen)
    assert rel_change(model, p, mask, p[:, order], mask[:, order]) < 1e-9
    padded = torch.cat([p, torch.zeros(len(p), 9, 4, dtype=p.dtype)], 1)
    padded_mask = torch.cat([mask, torch.zeros(len(p), 9, dtype=torch.bool)], 1)
    assert rel_change(model, p, mask, padded, padded_mask) < 1e-9


def test_pfn_baseline_is_not_boost_invariant(jets) -> None:
    p, mask = jets
    model = make("pfn")
    gen = torch.Generator().manual_seed(7)
    assert rel_change(model, p, mask, transform(random_rotation(len(p), gen, about_z=True), p)) < 1e-9
    assert rel_change(model, p, mask, transform(random_lorentz(len(p), gen), p)) > 0.1
