"""Device resolution: auto falls back to the CPU, an absent or unknown device is bad input."""

import pytest
import torch

from common.device import resolve_device
from common.errors import InputError


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(InputError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(InputError, match="auto, cpu or cuda"):
        resolve_device("tpu")
