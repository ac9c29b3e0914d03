"""Progress bars for long loops, silenced with `quiet=True` (the CLIs' `--quiet`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = "", quiet: bool = False
) -> Iterator[T]:
    """Iterate over `items` with a progress bar on stderr unless `quiet`."""
    yield from tqdm(items, total=total, desc=desc, disable=quiet, leave=False, dynamic_ncols=True)
