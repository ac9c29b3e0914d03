"""`toptag train`, `toptag evaluate`, `toptag predict`: Lorentz-equivariant taggers (issue #10)."""

from inference.cli.common import not_built, user_errors


@user_errors
def train() -> None:
    """Train a top tagger (lorentznet, lgatr or pfn) on ROOT files."""
    not_built("toptag train", 10)


@user_errors
def evaluate() -> None:
    """Evaluate a tagger on a test file: accuracy, ROC AUC, background rejection."""
    not_built("toptag evaluate", 10)


@user_errors
def predict() -> None:
    """Write a tagger's scores for every jet of a ROOT file to HDF5."""
    not_built("toptag predict", 10)
