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
#: distinct (route, arguments) paths remembered for :func:`site_url` before starting over
PATH_MEMO = 4096


class ProductLinks:
    """Each product's image and page paths (relative to the site's root), memoised."""

    def __init__(self, app: Flask) -> None:
        """Build paths with ``app``'s routes mounted at ``/``."""
        self._adapter: MapAdapter = app.url_map.bind("localhost", script_name="/")
        self._media: dict[str, str] = {}
        self._pages: dict[str, str] = {}
        self._paths: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}

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

    def path(self, endpoint: str, args: dict[str, Any]) -> str:
        """Any route's path with ``args``, memoised (the layout's fixed links, the session's
        recent queries); the memo starts over when it holds :data:`PATH_MEMO` paths."""
        key = (endpoint, tuple(sorted(args.items())))
        path = self._paths.get(key)
        if path is None:
            if len(self._paths) >= PATH_MEMO:
                self._paths.clear()
            path = self._paths[key] = self._adapter.build(endpoint, args)
        return path

    def query(self, args: dict[str, Any]) -> str:
        """``?…`` for a product link's extra arguments (``None`` values left out), or ``""``."""
        url = self._adapter.build(PRODUCT, {"product_id": "-", **args})
        return "".join(url.partition("?")[1:])


class PageLinks:
    """One request's links: the app's path table behind the request's mount point."""

    def __init__(self, table: ProductLinks, root: str) -> None:
        """Links under ``root`` (``""`` when the site is mounted at ``/``)."""
        self.table, self.root = table, root
        self._queries: dict[tuple[str | None, str | None], str] = {}

    def media(self, product: Product) -> str:
        """As ``url_for('pages.media', filename=product.image)``."""
        return self.root + self.table.media(product.image)

    def page(self, product: Product, query: str | None, source: str | None) -> str:
        """As ``url_for('pages.product', product_id=id, q=query, from=source)``, empty
        arguments left out; each distinct query string is built once a request."""
        key = (query or None, source or None)
        suffix = self._queries.get(key)
        if suffix is None:
            args = {"q": key[0], **({"from": key[1]} if key[1] else {})}
            suffix = self._queries[key] = self.table.query(args)
        return self.root + self.table.page(product.id) + suffix


def site_url(endpoint: str, **args: Any) -> str:
    """As ``url_for(endpoint, **args)`` for a site-relative link, from the memo."""
    links = page_links()
    return links.root + links.table.path(endpoint, args)


def page_links() -> PageLinks:
    """This request's links (made on first use; the table on first use after a load)."""
    links: PageLinks | None = g.get("page_links")
    if links is None:
        table: ProductLinks | None = current_app.extensions.get("links")
        if table is None:
            table = current_app.extensions["links"] = ProductLinks(current_app)
        links = g.page_links = PageLinks(table, url_for("pages.index")[:-1])
    return links


def media_url(product: Product) -> str:
    """The URL of a product's image, as ``url_for('pages.media', filename=image)``."""
    return page_links().media(product)


def product_url(product: Product, query: str | None = None, source: str | None = None) -> str:
    """The URL of a product's page, as ``url_for('pages.product', product_id=id, q=query,
    from=source)`` with empty arguments left out."""
    return page_links().page(product, query, source)


def _forget(app: Flask, **_: Any) -> None:
    """Drop the link table of the engine that a (re)load replaced."""
    app.extensions.pop("links", None)


def init_app(app: Flask) -> None:
    """Offer ``media_url``, ``product_url`` and ``site_url`` to templates; refresh the table
    on reloads."""
    app.add_template_global(media_url)
    app.add_template_global(product_url)
    app.add_template_global(site_url)
    engine_loaded.connect(_forget, app)
