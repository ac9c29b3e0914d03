"""`iaemu fit` and `iaemu validate`: HMC posteriors from the emulator (issue #5)."""

from inference.cli.common import not_built, user_errors


@user_errors
def fit() -> None:
    """Fit an observation (e.g. an IllustrisTNG measurement, --tng data.h5) with NUTS or emcee."""
    not_built("iaemu fit", 5)


@user_errors
def validate() -> None:
    """Injection/recovery on held-out mocks: rank-based coverage per parameter."""
    not_built("iaemu validate", 5)
