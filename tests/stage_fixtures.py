"""A tiny hand-built catalogue for the stage tests: real morphology and BM25, no models."""

from __future__ import annotations

from webapp.catalog.products import Product
from webapp.catalog.rules import Concepts, make_rule
from webapp.search.lexical import LexicalIndex
from webapp.search.query import QueryUnderstanding
from webapp.search.settings import RankingSettings
from webapp.search.terms import TermReader


def product(pid: str, title: str, sub: str, tags: str, category: str = "Животные") -> Product:
    """A design with a generated description, like the demo catalogue's."""
    return Product(
        pid,
        title,
        category,
        sub,
        tuple(t.strip() for t in tags.split(",")),
        f"Дизайн машинной вышивки «{title}».",
        500,
        f"images/{pid}.png",
    )


PRODUCTS = (
    product("p0", "Петух", "Птицы", "птица, курица, петух"),
    product("p1", "Кошка", "Кошачьи", "кот, кошка, домашнее животное"),
    product("p2", "Котёнок в шляпе", "Кошачьи", "кот, шляпа"),
    product("p3", "Бабочка", "Насекомые", "насекомое, бабочка"),
    product("p4", "Блины", "Еда", "блины, масленица", category="Еда и напитки"),
    product("p5", "Масляная лампа", "Свет", "лампа, масло", category="Предметы"),
    product("p6", "Медаль", "Награды", "медаль, награда", category="Предметы"),
    product("p7", "Мышь", "Грызуны", "мышь, грызун"),
)
SETTINGS = RankingSettings()
RULES = Concepts(
    [make_rule("масленица", "блины, солнце", "occasion")],
    [make_rule("23 февраля", "медаль, каска", "occasion")],
)


def lexical() -> LexicalIndex:
    """BM25 over :data:`PRODUCTS` with the shipped word settings."""
    return LexicalIndex(PRODUCTS, SETTINGS.words)


def reader(index: LexicalIndex | None = None) -> TermReader:
    """A term reader over :func:`lexical`."""
    return TermReader(index or lexical(), thesaurus_known_words=True)


def understanding() -> QueryUnderstanding:
    """Query understanding with :data:`RULES` (no emoji)."""
    return QueryUnderstanding({}, 200, RULES, SETTINGS.words.layout_share)
