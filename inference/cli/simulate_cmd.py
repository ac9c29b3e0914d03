"""`iaemu simulate`: HOD + IA mock datasets over a parameter design (issue #4)."""

from inference.cli.common import not_built, user_errors


@user_errors
def simulate() -> None:
    """Populate mocks over a parameter design and measure xi, omega, eta into an HDF5 dataset."""
    not_built("iaemu simulate", 4)
