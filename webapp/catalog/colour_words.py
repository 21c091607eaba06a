"""Colour words in a query, and how well a design's palette answers them.

A query's lemmas (ё folded to е, as the search makes them) are matched exactly, so
«голубое», «голубого» and «голубой» all arrive as ``голубой`` and the bird «голубь»
never does. Shades name their basic colour («алый» → красный, «бирюзовый» → голубой and
зелёный); compounds name both («чёрно-белый» → чёрный and белый, together; «сине-зелёный»
→ either); «разноцветный», «пёстрый» and «радужный» ask for many colours. Hue pairs that
shoppers mix up stand in for each other at half weight: голубой/синий, рыжий as
оранжевый or коричневый, розовый/фиолетовый («сиреневый»).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .colours import NAMES

#: a basic colour's lemma → (its palette names, names that count half)
BASIC: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "красный": (("красный",), ("розовый",)),
    "оранжевый": (("оранжевый",), ("желтый",)),
    "рыжий": (("оранжевый",), ("коричневый",)),
    "желтый": (("желтый",), ("оранжевый",)),
    "зеленый": (("зеленый",), ()),
    "голубой": (("голубой",), ("синий",)),
    "синий": (("синий",), ("голубой",)),
    "фиолетовый": (("фиолетовый",), ("розовый",)),
    "розовый": (("розовый",), ("фиолетовый", "красный")),
    "коричневый": (("коричневый",), ("оранжевый",)),
    "черный": (("черный",), ("серый",)),
    "белый": (("белый",), ("серый",)),
    "серый": (("серый",), ("белый", "черный")),
}
#: shades and synonyms → the basic colour lemma(s) they are
SHADES: dict[str, tuple[str, ...]] = {
    **{
        w: ("красный",)
        for w in "алый багровый багряный бордовый вишневый пунцовый рубиновый".split()
    },
    **{w: ("оранжевый",) for w in "апельсиновый морковный мандариновый огненный".split()},
    **{w: ("рыжий",) for w in "рыжеватый медный".split()},
    **{w: ("желтый",) for w in "желтенький лимонный соломенный".split()},
    **{w: ("желтый", "оранжевый") for w in "золотой золотистый янтарный".split()},
    **{
        w: ("зеленый",)
        for w in "зелененький салатовый салатный изумрудный травяной оливковый хвойный".split()
    },
    **{w: ("голубой",) for w in "лазурный небесный лазоревый".split()},
    **{w: ("голубой", "зеленый") for w in "бирюзовый".split()},
    **{w: ("синий",) for w in "васильковый ультрамариновый сапфировый".split()},
    **{w: ("фиолетовый",) for w in "сиреневый лиловый пурпурный лавандовый фиалковый".split()},
    **{w: ("розовый",) for w in "малиновый коралловый розоватый".split()},
    **{w: ("коричневый",) for w in "бурый шоколадный каштановый кофейный бежевый".split()},
    **{w: ("черный",) for w in "вороной угольный черненький".split()},
    **{w: ("белый",) for w in "белоснежный беленький молочный".split()},
    **{w: ("серый",) for w in "серебряный серебристый пепельный стальной свинцовый".split()},
}
#: the first part of a compound colour («чёрно-белый», «тёмно-синий») → its colour lemma
COMBINING = {
    "красно": "красный",
    "оранжево": "оранжевый",
    "рыже": "рыжий",
    "желто": "желтый",
    "золотисто": "золотой",
    "зелено": "зеленый",
    "голубо": "голубой",
    "сине": "синий",
    "фиолетово": "фиолетовый",
    "розово": "розовый",
    "коричнево": "коричневый",
    "черно": "черный",
    "бело": "белый",
    "серо": "серый",
    "серебристо": "серебряный",
}
#: first parts that only shade the colour after them («светло-зелёный» is зелёный)
SHADING = frozenset("темно светло ярко бледно нежно густо насыщенно".split())
#: colours without hue: in a compound they name a second colour, not a shade
ACHROMATIC = frozenset({"черный", "белый", "серый"})
#: each colour of a «чёрно-белый» pair shows fully from this share of the motif up
TOGETHER_SHARE = 0.15
#: words that ask for many colours at once
MANY = frozenset("разноцветный многоцветный пестрый радужный цветастый".split())
#: how many hues above :data:`MANY_SHARE` make a design «разноцветный» outright; black,
#: white, grey and brown do not count (nor would a face's skin and hair make it colourful)
MANY_COLOURS = 5
MANY_SHARE = 0.05
HUES = ("красный", "оранжевый", "желтый", "зеленый", "голубой", "синий", "фиолетовый", "розовый")
#: the spelling a shopper reads (palette names are stored with ё folded, like terms)
DISPLAY = {"желтый": "жёлтый", "зеленый": "зелёный", "черный": "чёрный"}


@dataclass(frozen=True)
class ColourTerm:
    """One colour word of a query: the palette names it asks for, those that count half,
    and whether all of ``colours`` must show («чёрно-белый») or many colours («пёстрый»)."""

    word: str
    colours: tuple[str, ...]
    near: tuple[str, ...] = ()
    together: bool = False
    many: bool = False


def query_colours(lemmas: Iterable[str]) -> tuple[ColourTerm, ...]:
    """The colour words among a query's lemmas, in order (``()`` when there are none)."""
    found = []
    for lemma in lemmas:
        lemma = lemma.lower().replace("ё", "е")
        if lemma in MANY:
            found.append(ColourTerm(lemma, (), many=True))
            continue
        parts = lemma.split("-")
        if len(parts) == 2 and parts[0] in SHADING:
            parts = parts[1:]
        bases = [_basic(p) if i == len(parts) - 1 else _combining(p) for i, p in enumerate(parts)]
        if all(bases) and len(parts) <= 3:
            found.append(_term(lemma, [b for group in bases for b in group], len(parts) > 1))
    return tuple(found)


def _basic(word: str) -> tuple[str, ...]:
    """The basic colour lemmas a single colour adjective stands for ((), if none)."""
    return (word,) if word in BASIC else SHADES.get(word, ())


def _combining(part: str) -> tuple[str, ...]:
    """The basic colour lemmas of the first part of a compound («черно» → черный)."""
    word = COMBINING.get(part, "")
    return _basic(word) if word else ()


def _term(word: str, bases: Sequence[str], compound: bool) -> ColourTerm:
    """A :class:`ColourTerm` from basic colour lemmas. A compound with black, white or grey
    names two colours that must both show («чёрно-белый», «красно-белый»); one of two hues
    names the hue between them, so either will do («сине-зелёный»)."""
    colours = tuple(dict.fromkeys(c for b in bases for c in BASIC[b][0]))
    together = compound and len(colours) > 1 and bool(ACHROMATIC & set(colours))
    near = () if together else tuple(n for b in bases for n in BASIC[b][1] if n not in colours)
    return ColourTerm(word, colours, tuple(dict.fromkeys(near)), together)


def colour_match(shares: Mapping[str, float], term: ColourTerm) -> float:
    """How well a design's palette (:func:`~.colours.colour_shares`) answers ``term``, 0–1.

    One colour: its share of the motif, plus half the share of near hues. «Чёрно-белый»:
    the share the two hold together, scaled down while the smaller of them is below
    :data:`TOGETHER_SHARE` (a white cloud with a thin black outline is not black-and-white).
    Many colours: hues above :data:`MANY_SHARE` counted against :data:`MANY_COLOURS`, times
    the share of the motif that has a hue at all.
    """
    if term.many:
        hues = [shares.get(c, 0.0) for c in HUES]
        return min(1.0, sum(s >= MANY_SHARE for s in hues) / MANY_COLOURS) * min(1.0, sum(hues))
    if term.together:
        held = [shares.get(c, 0.0) for c in term.colours]
        return min(1.0, min(held) / TOGETHER_SHARE) * min(1.0, sum(held))
    full = sum(shares.get(c, 0.0) for c in term.colours)
    return min(1.0, full + 0.5 * sum(shares.get(c, 0.0) for c in term.near))


def colour_names(shares: Mapping[str, float], minimum: float = 0.1) -> list[str]:
    """The colours a shopper would name in a design, largest share first, as they read."""
    return [DISPLAY.get(n, n) for n, s in shares.items() if s >= minimum and n in NAMES]
