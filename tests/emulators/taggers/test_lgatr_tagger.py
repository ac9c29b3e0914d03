"""The L-GATr wrapper: the lgatr 2.x spurions are the same reference vectors as LorentzNet's, padded tokens
are masked out of attention (garbage in them changes nothing), and unknown references are refused."""

import pytest
import torch

from common.errors import InputError
from emulators.taggers.lgatr_tagger import LGATrConfig, LGATrTagger
from emulators.taggers.lorentz import reference_vectors, toy_jets
from emulators.taggers.lorentznet import LorentzNetConfig

from .tagger_files import one_thread  # noqa: F401 (autouse fixture)


def test_spurions_embed_the_lorentznet_reference_vectors() -> None:
    from lgatr import extract_vector

    model = LGATrTagger(LGATrConfig(blocks=1, hidden_mv=2, hidden_s=4, heads=1, references=("beam", "time")))
    refs, _ = reference_vectors(("beam", "time"))
    torch.testing.assert_close(extract_vector(model.spurions), refs)
    assert model.spurions[:, [0, *range(5, 16)]].abs().sum() == 0  # pure grade-1 multivectors


def test_padded_tokens_do_not_leak_into_real_ones() -> None:
    torch.manual_seed(0)
    model = LGATrTagger(LGATrConfig(blocks=2, hidden_mv=4, hidden_s=8, heads=2)).double().eval()
    p, mask = toy_jets(5, 16, torch.Generator().manual_seed(1))
    garbage = torch.where(mask[..., None], p, 300 * torch.rand(p.shape, dtype=p.dtype))
    with torch.no_grad():
        torch.testing.assert_close(model(garbage, mask), model(p, mask), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("config", [LGATrConfig, LorentzNetConfig])
def test_unknown_reference_is_refused(config) -> None:
    with pytest.raises(InputError, match=r"config: references: \['sideways'\]: expected kinds among"):
        config(references=("sideways",))
