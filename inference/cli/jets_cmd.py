"""`toptag generate`: top and QCD jets with Pythia 8 + FastJet into ROOT files (issue #6)."""

from inference.cli.common import not_built, user_errors


@user_errors
def generate() -> None:
    """Generate top or QCD jets (Kasieczka et al. 2019 recipe) and write a JetClass-style ROOT file."""
    not_built("toptag generate", 6)
