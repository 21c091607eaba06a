"""Columns a worker memory-maps: ``.npy`` arrays and string columns built on them.

A string column is Arrow's layout without Arrow: every value's UTF-8 bytes end to end
in one ``uint8`` array, and an ``int64`` array of offsets (value ``i`` is
``data[offsets[i]:offsets[i + 1]]``). Both are plain ``.npy`` files, so
``numpy.load(mmap_mode="r")`` maps them in microseconds, whatever their size, and a
value is decoded only when a page asks for it: a million titles cost a worker page
cache it shares with its siblings, not a million Python strings of its own.
(Measured against Arrow IPC and Parquet in ``benchmarks/bench_scale.py``, part
``columns``; docs/scaling.md.)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..files import replacing


def save_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` (``.npy``) through a temporary file."""
    with replacing(path) as tmp, open(tmp, "wb") as out:
        np.save(out, np.ascontiguousarray(array), allow_pickle=False)


def load_array(path: Path, *, mmap: bool = True) -> np.ndarray:
    """``path``'s array, memory-mapped read-only (or read into memory). A mapped one comes
    as a plain ``ndarray`` view of the mapping (its ``base``): ``numpy.memmap``'s subclass
    hooks cost microseconds on every item read, which a page of products reads hundreds of."""
    array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    return array.view(np.ndarray) if mmap else array


class StringColumn(Sequence[str]):
    """Strings in one UTF-8 byte array with offsets; decoded one value at a time."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        """Wrap ``data`` (uint8) and ``offsets`` (int64, one more than values)."""
        self.data = data
        self.offsets = offsets

    @classmethod
    def of(cls, values: Iterable[str]) -> StringColumn:
        """A column in memory holding ``values`` in order."""
        encoded = [v.encode("utf-8") for v in values]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), np.uint8), offsets)

    def save(self, folder: Path, name: str) -> list[Path]:
        """Write the column as ``<name>.data.npy`` and ``<name>.offsets.npy``; return them."""
        paths = [folder / f"{name}.data.npy", folder / f"{name}.offsets.npy"]
        save_array(paths[0], self.data)
        save_array(paths[1], self.offsets)
        return paths

    @classmethod
    def load(cls, folder: Path, name: str, *, mmap: bool = True) -> StringColumn:
        """The column ``name`` saved in ``folder``, memory-mapped."""
        data = load_array(folder / f"{name}.data.npy", mmap=mmap)
        return cls(data, load_array(folder / f"{name}.offsets.npy", mmap=mmap))

    def __len__(self) -> int:
        """Number of values."""
        return len(self.offsets) - 1

    def __getitem__(self, row):  # type: ignore[override]
        """Value ``row`` (decoded), or a list of values for a slice."""
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        start, end = self.offsets[row : row + 2].tolist()
        return str(self.data[start:end], "utf-8")

    def __iter__(self) -> Iterator[str]:
        """Every value in order (offline use: this decodes them all)."""
        data = bytes(self.data)
        bounds = self.offsets.tolist()
        for start, end in zip(bounds, bounds[1:], strict=False):
            yield data[start:end].decode("utf-8")

    def take(self, rows: Iterable[int]) -> list[str]:
        """The values of ``rows``, in that order."""
        return [self[int(r)] for r in rows]


class SortedStrings:
    """A sorted :class:`StringColumn` as a set: membership and position by binary search,
    ~20 decoded values per lookup at a million, nothing built per worker. The positions
    of the values asked for recently are remembered (a query's words are looked up again
    for every candidate and every result on its page)."""

    #: positions remembered at most (then forgotten all at once: a dict stays small)
    REMEMBERED = 65_536

    def __init__(self, column: StringColumn) -> None:
        """Search ``column`` (its values sorted by code point, no duplicates)."""
        self.column = column
        self._positions: dict[str, int] = {}

    def index(self, value: str) -> int:
        """Position of ``value``, or -1."""
        position = self._positions.get(value)
        if position is not None:
            return position
        position = bisect_left(self.column, value)
        found = position < len(self.column) and self.column[position] == value
        if len(self._positions) >= self.REMEMBERED:
            self._positions.clear()
        self._positions[value] = position = position if found else -1
        return position

    def __contains__(self, value: object) -> bool:
        """Whether ``value`` is one of the strings."""
        return isinstance(value, str) and self.index(value) >= 0

    def __len__(self) -> int:
        """Number of strings."""
        return len(self.column)

    def __iter__(self) -> Iterator[str]:
        """The strings in order."""
        return iter(self.column)


class IdLookup:
    """Row of a product id: a binary search over the rows sorted by id (a mapped
    permutation), instead of a million-entry dict in every worker."""

    def __init__(self, ids: StringColumn, by_id: np.ndarray) -> None:
        """Look up ``ids`` (row order) through ``by_id`` (rows in id order)."""
        self.ids = ids
        self.by_id = by_id

    def row_of(self, product_id: str) -> int | None:
        """The row holding ``product_id``, or None."""
        low, high = 0, len(self.by_id)
        while low < high:
            middle = (low + high) // 2
            if self.ids[int(self.by_id[middle])] < product_id:
                low = middle + 1
            else:
                high = middle
        if low < len(self.by_id):
            row = int(self.by_id[low])
            if self.ids[row] == product_id:
                return row
        return None
