"""`iaemu train` and `iaemu evaluate`: the IA emulator (issue #9)."""

from inference.cli.common import not_built, user_errors


@user_errors
def train() -> None:
    """Train the IA emulator (mean, aleatoric and epistemic uncertainty) on a mock dataset."""
    not_built("iaemu train", 9)


@user_errors
def evaluate() -> None:
    """Evaluate a trained emulator on held-out mocks: metrics.json and plots."""
    not_built("iaemu evaluate", 9)
