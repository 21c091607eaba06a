"""Request parameters → a validated :class:`SearchRequest`, or a clear 400.

The HTML pages and the JSON API share these rules, so a value rejected by one
is rejected by the other with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from ..catalog.facets import Filters
from ..catalog.products import MAX_PRICE
from ..search.filters import SORTS
from ..search.query import clean
from ..search.results import SearchRequest


class ParamError(ValueError):
    """A request parameter is malformed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_search(
    args: Mapping[str, str],
    config: Mapping[str, Any],
    categories: Collection[str],
    *,
    require_query: bool,
) -> SearchRequest:
    """Validate search parameters; raise ParamError for the first bad one."""
    query, truncated = clean_query(args.get("q", ""), config)
    if require_query and not query:
        raise ParamError("q", "Пустой запрос: укажите, что искать (параметр q).")
    category = args.get("category", "").strip()
    if category and category not in categories:
        raise ParamError("category", f"Нет такой категории: «{shown(category, 60)}».")
    price_min = _int(args, "price_min", 0, MAX_PRICE)
    price_max = _int(args, "price_max", 0, MAX_PRICE)
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ParamError("price_max", "Цена «до» меньше цены «от».")
    sort = args.get("sort", "") or "relevance"
    if sort not in SORTS:
        raise ParamError("sort", f"Сортировка должна быть одной из: {', '.join(SORTS)}.")
    # k is an alias of per_page and wins when both are given; both are validated
    per_page, k = (_int(args, name, 1, config["MAX_PAGE_SIZE"]) for name in ("per_page", "k"))
    per_page = k or per_page or config["PAGE_SIZE"]
    page = _int(args, "page", 1, config["MAX_PAGE"]) or 1
    return SearchRequest(
        query=query,
        filters=Filters(category, price_min, price_max),
        sort=sort,
        page=page,
        per_page=per_page,
        truncated=truncated,
    )


def shown(value: str, length: int) -> str:
    """A parameter's value as an error message may quote it: cleaned, at most ``length``
    characters (so no control character reaches a page)."""
    return clean(value, length)[0]


def clean_query(raw: str, config: Mapping[str, Any]) -> tuple[str, bool]:
    """The query as searched and echoed: control and invisible characters dropped, spaces
    collapsed, cut at a word boundary within ``MAX_QUERY_LENGTH``; and whether it was cut."""
    return clean(raw, int(config["MAX_QUERY_LENGTH"]))


#: what a shopper calls each numeric parameter (the form's labels)
LABELS = {
    "price_min": "Цена «от»",
    "price_max": "Цена «до»",
    "page": "Номер страницы",
    "per_page": "Число дизайнов на странице",
    "k": "Число дизайнов на странице",
}


def _int(args: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    """An optional whole number within [low, high]; None when absent or blank. The message
    names the field as the form labels it («Цена «от» должна быть…»)."""
    raw = args.get(name, "").strip()
    if not raw:
        return None
    label = LABELS.get(name, f"Параметр {name}")
    if not re.fullmatch(r"-?[0-9]{1,12}", raw):
        raise ParamError(name, f"{label}: нужно целое число, а не «{shown(raw, 20)}».")
    value = int(raw)
    if not low <= value <= high:
        raise ParamError(name, f"{label}: нужно число от {low} до {high}.")
    return value
