"""Torch on one CPU thread inside a block: the test machines have two cores shared by several processes,
where torch's spinning worker threads make small PM runs several times slower."""

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Set torch's intra-op threads to 1 for the block, then restore them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
