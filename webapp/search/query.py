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


def clean(raw: str, max_length: int) -> tuple[str, bool]:
    """NFC-normalise, drop control characters, collapse spaces and truncate."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        ch if unicodedata.category(ch)[0] != "C" or ch in "\u200d" else " " for ch in text
    )
    text = " ".join(text.split())
    return (text[:max_length].rstrip(), True) if len(text) > max_length else (text, False)


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
