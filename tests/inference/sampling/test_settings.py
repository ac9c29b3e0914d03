"""The NUTS budget object: checked when made, the IA defaults differing only where they say so."""

from dataclasses import fields, replace

import pytest

from common.errors import InputError
from inference.ia.fit import FitSettings
from inference.ia.settings import IANutsSettings
from inference.ia.validation.settings import ValidationSettings
from inference.sampling.settings import NutsSettings


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"chain_method": "parallel"}, "chain_method"),
        ({"chains": 0}, "chains"),
        ({"warmup": 2.5}, "warmup"),
        ({"target_accept": 1.0}, "target_accept"),
        ({"target_accept": 0.0}, "target_accept"),
        ({"rhat_target": 1.0}, "rhat_target"),
        ({"rhat_target": 1.01, "samples": 100, "max_samples": 50}, "max_samples"),
    ],
)
def test_a_bad_budget_is_refused_when_made(change: dict, field: str) -> None:
    with pytest.raises(InputError, match=field):
        NutsSettings(**change)
    with pytest.raises(InputError, match=field):
        replace(FitSettings(), **change)


def test_most_draws_defaults_to_four_times_the_samples() -> None:
    assert NutsSettings(samples=250).most_draws == 1000
    assert NutsSettings(samples=250, max_samples=300).most_draws == 300


def test_ia_fits_and_validation_share_one_budget() -> None:
    """FitSettings and ValidationSettings carry the IA defaults; those differ from NUTS's own defaults in
    target acceptance, mass matrix, chain method and R-hat target, and nowhere else."""
    generic, ia = NutsSettings(), IANutsSettings()
    names = [f.name for f in fields(NutsSettings)]
    differ = {n for n in names if getattr(generic, n) != getattr(ia, n)}
    assert differ == {"target_accept", "dense_mass", "chain_method", "rhat_target"}
    for settings in (FitSettings(), ValidationSettings()):
        assert {n: getattr(settings, n) for n in names} == {n: getattr(ia, n) for n in names}


CHOICES = ["xi_space", "emulator_variance", "emulator_covariance", "sampler", "start"]


@pytest.mark.parametrize("field", CHOICES)
def test_fit_choices_are_checked_when_made(field: str) -> None:
    with pytest.raises(InputError, match=f"^{field}: 'bogus': expected one of"):
        FitSettings(**{field: "bogus"})
