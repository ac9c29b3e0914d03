"""Which torch device a run uses (docs/ARCHITECTURE.md section 2: GPU when present, CPU otherwise)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from common.errors import InputError

if TYPE_CHECKING:
    import torch

DeviceName = Literal["auto", "cpu", "cuda"]
DEVICE_NAMES: tuple[str, ...] = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when torch sees a device, else CPU; ``cuda`` without one is an :class:`InputError`.

    torch is imported here, not at module level, so that code which never touches a device stays torch-free.
    """
    import torch

    if name not in DEVICE_NAMES:
        raise InputError(f"device (--device) {name!r}: expected auto, cpu or cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device (--device) cuda: asked for, but torch sees no CUDA device (use auto or cpu)")
    return torch.device(name)
