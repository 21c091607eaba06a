"""Links to products and their images, built once per product instead of per card.

A gallery page shows dozens of cards, each with a product link and an image URL.
``url_for`` costs ≈ 20 µs a call (route lookup, quoting); these helpers give the
same strings from a table of each product's site-relative paths, kept per loaded
engine (so a hot reload starts a fresh one), plus the request's mount point and a
query string built once per page. The strings are exactly what ``url_for`` gives.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, url_for
from werkzeug.routing import MapAdapter

from ..catalog.products import Product
from ..lifecycle import engine_loaded

MEDIA, PRODUCT = "pages.media", "pages.product"


class ProductLinks:
    """Each product's image and page paths (relative to the site's root), memoised."""

    def __init__(self, app: Flask) -> None:
        """Build paths with ``app``'s routes mounted at ``/``."""
        self._adapter: MapAdapter = app.url_map.bind("localhost", script_name="/")
        self._media: dict[str, str] = {}
        self._pages: dict[str, str] = {}

    def media(self, image: str) -> str:
        """``/media/<image>``, quoted as the route quotes it."""
        path = self._media.get(image)
        if path is None:
            path = self._media[image] = self._adapter.build(MEDIA, {"filename": image})
        return path

    def page(self, product_id: str) -> str:
        """``/product/<id>``, quoted as the route quotes it."""
        path = self._pages.get(product_id)
        if path is None:
            path = self._adapter.build(PRODUCT, {"product_id": product_id})
            self._pages[product_id] = path
        return path

    def query(self, args: dict[str, Any]) -> str:
        """``?…`` for a product link's extra arguments (``None`` values left out), or ``""``."""
        url = self._adapter.build(PRODUCT, {"product_id": "-", **args})
        return "".join(url.partition("?")[1:])


def _links() -> ProductLinks:
    """The current app's link table (made on first use after each engine load)."""
    links: ProductLinks | None = current_app.extensions.get("links")
    if links is None:
        links = current_app.extensions["links"] = ProductLinks(current_app)
    return links


def _root() -> str:
    """Where the site is mounted for this request (``""`` at the root), as ``url_for`` sees it."""
    if "links_root" not in g:
        g.links_root = url_for("pages.index")[:-1]
    return str(g.links_root)


def media_url(product: Product) -> str:
    """The URL of a product's image, as ``url_for('pages.media', filename=image)``."""
    return _root() + _links().media(product.image)


def product_url(product: Product, query: str | None = None, source: str | None = None) -> str:
    """The URL of a product's page, as ``url_for('pages.product', product_id=id, q=query,
    from=source)`` with empty arguments left out (the query string is built once a page)."""
    key = (query or None, source or None)
    cache: dict[tuple[str | None, str | None], str] = g.setdefault("links_queries", {})
    suffix = cache.get(key)
    if suffix is None:
        args = {"q": key[0], **({"from": key[1]} if key[1] else {})}
        suffix = cache[key] = _links().query(args)
    return _root() + _links().page(product.id) + suffix


def _forget(app: Flask, **_: Any) -> None:
    """Drop the link table of the engine that a (re)load replaced."""
    app.extensions.pop("links", None)


def init_app(app: Flask) -> None:
    """Offer ``media_url`` and ``product_url`` to templates; refresh the table on reloads."""
    app.add_template_global(media_url)
    app.add_template_global(product_url)
    engine_loaded.connect(_forget, app)
