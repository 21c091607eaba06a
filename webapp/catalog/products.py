"""Stage 0 of the journey: reading and validating the catalogue CSV.

The CSV is the shop's source of truth. Every good row becomes a
:class:`Product`; malformed rows are collected with their line numbers and
reported together, so an operator can fix the file in one pass, while the
good rows stay searchable. Only an unreadable file stops everything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: The CSV contract, in the order the writers use (``data/README.md``).
COLUMNS = ("id", "title", "category", "subcategory", "tags", "description", "price", "image")
OPTIONAL_COLUMNS = ("subcategory",)
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)
MAX_PRICE = 10_000_000


@dataclass(frozen=True, slots=True)
class Product:
    """One embroidery design as the catalogue describes it."""

    id: str
    title: str
    category: str
    subcategory: str
    tags: tuple[str, ...]
    description: str
    price: int
    image: str

    @property
    def search_text(self) -> str:
        """The Russian text that text encoders and the lexical index see."""
        parts = [self.title, self.subcategory.lower(), ", ".join(self.tags), self.description]
        return ". ".join(p for p in parts if p)


class CatalogError(ValueError):
    """The catalogue CSV is unusable; ``problems`` lists ``(line, message)`` pairs."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]):
        self.path = path
        self.problems = problems
        shown = "\n".join(f"  line {line}: {msg}" for line, msg in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{path}: {len(problems)} bad row(s):\n{shown}{more}")


@dataclass(frozen=True)
class Catalog:
    """The validated catalogue: good products in file order, its fingerprint, bad rows."""

    products: tuple[Product, ...]
    fingerprint: str
    problems: tuple[tuple[int, str], ...] = ()

    def report(self) -> str:
        """Human-readable list of the rows that were not imported."""
        return "\n".join(f"line {line}: {msg}" for line, msg in self.problems)

    def ids(self) -> list[str]:
        """Product ids in row order."""
        return [p.id for p in self.products]


def read_catalog(path: Path) -> Catalog:
    """Read ``path`` and validate every row.

    Bad rows are listed in ``Catalog.problems`` by line number (line 1 is the
    header); :class:`CatalogError` is raised only when the file itself is
    unusable or has no good row at all.
    """
    frame = _read_frame(path)
    products: list[Product] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for offset, row in enumerate(frame.to_dict("records")):
        line = offset + 2
        try:
            product = parse_row(row)
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        if product.id in seen:
            first = seen[product.id]
            problems.append((line, f"duplicate id {product.id!r} (first on line {first})"))
            continue
        seen[product.id] = line
        products.append(product)
    if not products:
        raise CatalogError(path, problems or [(1, "no products")])
    return Catalog(tuple(products), fingerprint(products), tuple(problems))


def _read_frame(path: Path) -> pd.DataFrame:
    """Load the CSV as strings, refusing files without the required columns."""
    import pandas as pd  # here: ≈1 s to import, paid by whoever reads a catalogue, not by
    # every `flask` command (`reload` only touches a file)

    if not path.is_file():
        hint = "file not found; run `flask --app webapp build-demo-catalog`"
        raise CatalogError(path, [(0, hint)])
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8",
            on_bad_lines="error",
            engine="python",
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CatalogError(path, [(_parser_line(exc), f"unreadable CSV: {exc}")]) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise CatalogError(path, [(1, f"missing column(s): {', '.join(missing)}")])
    return frame


def _parser_line(exc: Exception) -> int:
    """Best-effort line number out of a pandas parser error message."""
    words = str(exc).replace(",", " ").split()
    for before, word in zip(words, words[1:], strict=False):
        if before.lower() == "line" and word.isdigit():
            return int(word)
    return 0


def parse_row(row: dict[str, str]) -> Product:
    """Turn one CSV record into a Product, raising ValueError on bad fields."""
    pid = row["id"].strip().lower()
    if not pid or any(ch.isspace() or ch in "/\\?#%" for ch in pid):
        raise ValueError(f"bad id {row['id']!r}")
    title = row["title"].strip()
    if not title:
        raise ValueError("empty title")
    image = row["image"].strip()
    if not image or Path(image).is_absolute() or ".." in Path(image).parts:
        raise ValueError(f"image must be a path relative to data/, got {image!r}")
    return Product(
        id=pid,
        title=title,
        category=row["category"].strip() or "Без категории",
        subcategory=row.get("subcategory", "").strip(),
        tags=_split_tags(row["tags"]),
        description=row["description"].strip(),
        price=_parse_price(row["price"]),
        image=image,
    )


def _parse_price(raw: str) -> int:
    """Parse a price in whole roubles; ValueError for junk, negatives or absurd values."""
    text = raw.strip().replace(" ", "").replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"price is not a number: {raw!r}") from None
    if not math.isfinite(value) or value < 0 or value > MAX_PRICE:
        raise ValueError(f"price out of range: {raw!r}")
    return round(value)


def _split_tags(raw: str) -> tuple[str, ...]:
    """Split ``"a; b; c"`` into unique, stripped tags, order kept."""
    tags = (t.strip() for t in raw.replace("|", ";").split(";"))
    return tuple(dict.fromkeys(t for t in tags if t))


def fingerprint(products: Iterable[Product]) -> str:
    """A SHA-256 over what embeddings depend on: ids, their order, text and image path.

    Prices and categories are left out on purpose: repricing the shop must not
    force a re-embedding.
    """
    digest = hashlib.sha256()
    for p in products:
        digest.update(repr((p.id, p.search_text, p.image)).encode())
    return digest.hexdigest()


def catalog_csv(rows: Iterable[Mapping[str, object]]) -> str:
    """``rows`` as catalogue CSV text: header, fixed column order, absent fields blank."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: row.get(c, "") for c in COLUMNS} for row in rows)
    return buffer.getvalue()
