"""`toptag fit`: the signal fraction of a mixed sample by HMC on score templates (issue #7)."""

from inference.cli.common import not_built, user_errors


@user_errors
def fit() -> None:
    """Fit the top-jet fraction of a mixed sample from the tagger's score templates with NUTS."""
    not_built("toptag fit", 7)
