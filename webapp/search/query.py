"""Query understanding: from what a shopper typed to what the engines search for.

Each step is a small pure function, tested on its own:
normalise → emoji to names → keyboard-layout repair → lemmatise.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass

from ..catalog.rules import Concepts, Expansion
from ..language.emoji import replace_emoji
from ..language.morphology import content_terms, diminutive_bases, is_dictionary_word, lemmatise
from ..language.text import WORD, normalise

# The ЙЦУКЕН keys under each QWERTY key, unshifted and shifted.
_QWERTY = "`qwertyuiop[]asdfghjkl;'zxcvbnm,./" + '~QWERTYUIOP{}ASDFGHJKL:"ZXCVBNM<>?'
_JCUKEN = "ёйцукенгшщзхъфывапролджэячсмитьбю." + "ЁЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,"
TO_CYRILLIC = str.maketrans(_QWERTY, _JCUKEN)
_LATIN_KEYS = re.compile(r"^[a-z`\[\];',./~{}:\"<>?]+$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedQuery:
    """A query after understanding; ``text`` is what the encoders embed."""

    raw: str
    text: str
    tokens: tuple[str, ...]
    lemmas: tuple[str, ...]
    emoji_ids: tuple[str, ...] = ()
    layout_fixed: bool = False
    truncated: bool = False
    #: concept rules the query triggered (thesaurus, occasions, staff): words it also means
    concepts: tuple[Expansion, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """Lemmas that carry meaning: stop words removed, order kept."""
        return content_terms(self.lemmas)

    @property
    def expansions(self) -> dict[str, tuple[str, ...]]:
        """Each content term with the base nouns of its diminutive form, if any.

        Both the lemma and the typed word are tried: for a guessed lemma
        (``совушка`` → ``совушко``) only the typed form leads back to ``сова``.
        """
        terms = set(self.terms)
        found: dict[str, tuple[str, ...]] = {}
        for token, lemma in zip(self.tokens, self.lemmas, strict=True):
            bases = diminutive_bases(lemma) + diminutive_bases(token.replace("ё", "е"))
            if lemma in terms and bases:
                found[lemma] = tuple(dict.fromkeys(bases))
        return found

    @property
    def cache_key(self) -> ParsedQuery:
        """What ranking depends on: the query less how it was typed (raw text, layout,
        truncation), so «Петух!!» and «петух» share one cached answer."""
        return dataclasses.replace(self, raw="", layout_fixed=False, truncated=False)

    @property
    def empty(self) -> bool:
        """True when nothing searchable is left."""
        return not self.text


class QueryUnderstanding:
    """Turns raw queries into :class:`ParsedQuery` using the catalogue's emoji names."""

    def __init__(
        self,
        emoji_names: dict[str, tuple[str, str]],
        max_length: int,
        concepts: Concepts | None,
        layout_share: float,
    ) -> None:
        """``emoji_names`` maps an emoji sequence (modifiers stripped) to (id, Russian name);
        ``concepts`` are the rules that add related words (none by default); Latin words
        are re-typed as Russian when more than ``layout_share`` of them become real words
        (``RankingSettings.words.layout_share``)."""
        self.emoji_names = emoji_names
        self.max_length = max_length
        self.concepts = concepts
        self.layout_share = layout_share

    def parse(self, raw: str) -> ParsedQuery:
        """Run every step on ``raw`` and return the result."""
        cleaned, truncated = clean(raw, self.max_length)
        without_emoji, names, ids = replace_emoji(cleaned, self.emoji_names)
        fixed, layout_fixed = fix_layout(without_emoji, self.layout_share)
        text = normalise(" ".join([fixed, *names]))
        tokens = tuple(WORD.findall(text))
        lemmas = lemmatise(tokens)
        return ParsedQuery(
            raw=raw,
            text=text,
            tokens=tokens,
            lemmas=lemmas,
            emoji_ids=tuple(ids),
            layout_fixed=layout_fixed,
            truncated=truncated,
            concepts=self.concepts.match(lemmas) if self.concepts else (),
        )


#: line breaks and tabs that separate words like a space does (Python's ``str.isspace``
#: would also count the C0 "information separators" \x1c-\x1f, which are controls)
_BREAKS = frozenset("\t\n\r\x0b\x0c\x85\u2028\u2029")
#: categories dropped outright: controls (NUL and the rest of C0 and C1), format characters
#: (zero-width spaces and joiners, BOM, soft hyphen, bidi marks, overrides and isolates),
#: surrogates and private use; unassigned code points stay (emoji newer than Python's tables)
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co"})
_ZWJ = "\u200d"
#: a raw query is read up to this many times ``max_length`` characters (a longer one is
#: cut first), so the cost of cleaning is bounded whatever a client sends
RAW_FACTOR = 16


def clean(raw: str, max_length: int) -> tuple[str, bool]:
    """The query as it is searched, echoed and recorded, and whether it was shortened.

    Ordinary whitespace (tabs, line breaks, any space) becomes one space; control and
    invisible characters are dropped, so NUL or a bidi override never reaches a page,
    a log or the database (a zero-width joiner stays only inside an emoji sequence such
    as 👨‍🍳); the rest is NFC-normalised. A text longer than ``max_length`` is cut at the
    last word boundary within it (mid-word only when its first word alone is longer).
    Cleaning a cleaned query changes nothing.
    """
    if len(raw) > RAW_FACTOR * max_length:  # bounded work for whatever is sent
        raw, cut_raw = raw[: RAW_FACTOR * max_length], True
    else:
        cut_raw = False
    if raw.isprintable():  # the usual query: no control, format or separator but " "
        return _shorten(" ".join(unicodedata.normalize("NFC", raw).split()), max_length, cut_raw)
    kept: list[str] = []
    for i, ch in enumerate(raw):
        if ch in _BREAKS or unicodedata.category(ch) == "Zs":
            kept.append(" ")
        elif ch == _ZWJ:
            if _symbol(kept[-1] if kept else "") and _symbol(raw[i + 1 : i + 2]):
                kept.append(ch)
        elif unicodedata.category(ch) not in _DROPPED:
            kept.append(ch)
    text = " ".join(unicodedata.normalize("NFC", "".join(kept)).split())
    return _shorten(text, max_length, cut_raw)


def _shorten(text: str, max_length: int, cut_raw: bool) -> tuple[str, bool]:
    """``text`` cut at its last word boundary within ``max_length``, and whether anything
    was cut (``cut_raw``: the raw text already was)."""
    if len(text) <= max_length:
        return text, cut_raw
    cut = text[: max_length + 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut[:max_length]
    return head.rstrip(_ZWJ + " "), True


def _symbol(ch: str) -> bool:
    """Whether ``ch`` is a symbol (an emoji, a skin tone, a variation selector)."""
    return bool(ch) and unicodedata.category(ch)[0] in "SM"


def fix_layout(text: str, share: float) -> tuple[str, bool]:
    """Re-type QWERTY-typed Russian (``rjn`` → ``кот``) when that yields real words.

    Only Latin tokens are candidates; they are converted together, and only when more
    than ``share`` of them become words the Russian dictionary knows, so English queries
    such as ``dinosaur`` are left alone.
    """
    words = text.split()
    candidates = [w for w in words if _LATIN_KEYS.match(w) and any(c.isalpha() for c in w)]
    if not candidates:
        return text, False
    converted = {w: w.translate(TO_CYRILLIC).strip(".,") for w in candidates}
    known = sum(is_dictionary_word(c) for c in converted.values())
    if known <= share * len(candidates):
        return text, False
    return " ".join(converted.get(w, w) for w in words), True
