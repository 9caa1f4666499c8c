"""Progress bars for long loops (tqdm on stderr; hidden when output is not a terminal)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(
    items: Iterable[T], desc: str, unit: str = "it", disable: bool = False, total: int | None = None
) -> Iterator[T]:
    from tqdm.auto import tqdm

    return iter(
        tqdm(
            items,
            desc=desc,
            unit=unit,
            total=total,
            disable=True if disable else None,
            leave=False,
            dynamic_ncols=True,
        )
    )
