"""The demo catalogue's Russian text: names, descriptions and synthetic prices.

Turns one emojibase entry into a catalogue row: CLDR labels cleaned of Latin
homoglyphs, Russian group names (with corrections for CLDR mistranslations), a
factual description built from the tags, and a price derived from the id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

NAME_OVERRIDES = {
    "people-body": "люди и тело",
    "face-smiling": "улыбающиеся лица",
    "face-hand": "лица с руками",
    "face-hat": "в шляпах",
    "cat-face": "кошачьи морды",
    "monkey-face": "обезьяньи морды",
    "hand-single-finger": "указательный палец",
    "person-sport": "спортсмены",
    "animal-mammal": "млекопитающие",
    "animal-amphibian": "амфибии",
    "animal-reptile": "рептилии",
    "animal-marine": "морская флора и фауна",
    "animal-bug": "насекомые",
    "food-asian": "азиатская кухня",
    "place-other": "другие места",
    "arts-crafts": "искусство и ремёсла",
}

#: Latin letters that CLDR sometimes types instead of their Cyrillic look-alikes.
LATIN_TO_CYRILLIC = str.maketrans("aceopxymkhtbACEOPXYMKHTB", "асеорхумкнтвАСЕОРХУМКНТВ")

CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
LATIN = re.compile("[a-z]", re.IGNORECASE)

PRICE_MIN = 190
PRICE_MAX = 1490
PRICE_STEP = 10


def synthetic_price(product_id: str) -> int:
    """Return a deterministic fake price in roubles (190..1490, step 10) derived from the id."""
    steps = (PRICE_MAX - PRICE_MIN) // PRICE_STEP + 1
    digest = hashlib.sha256(product_id.encode("utf-8")).digest()
    return PRICE_MIN + PRICE_STEP * (int.from_bytes(digest[:8], "big") % steps)


def capitalize_first(text: str) -> str:
    """Upper-case the first character only (``str.capitalize`` would lower the rest)."""
    return text[:1].upper() + text[1:]


def unique_lower(items: Iterable[str]) -> list[str]:
    """Lower-case and strip items, dropping empties and duplicates but keeping order."""
    seen: dict[str, None] = {}
    for item in items:
        value = item.strip().lower()
        if value:
            seen.setdefault(value, None)
    return list(seen)


def fix_homoglyphs(text: str) -> str:
    """Replace Latin look-alike letters inside otherwise Cyrillic words («mлекопитающих»)."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        if CYRILLIC.search(word) and LATIN.search(word):
            return word.translate(LATIN_TO_CYRILLIC)
        return word

    return re.sub(r"\w+", fix, text)


def name_map(
    ids_to_keys: dict[str, str], messages: list[dict[str, Any]]
) -> dict[int, dict[str, str]]:
    """Return {numeric id: {key, message}}, joining meta/groups.json ids with messages by key.

    messages.json's own ``order`` is not a safe join key: in 17.0.0 the retired
    ``food-marine`` subgroup still carries order 46, the id of ``food-sweet``.
    """
    by_key = {m["key"]: m["message"] for m in messages}
    names = {}
    for num, key in ids_to_keys.items():
        message = NAME_OVERRIDES.get(key) or by_key.get(key, key)
        names[int(num)] = {"key": key, "message": fix_homoglyphs(message.strip())}
    return names


def message_maps(
    meta_groups: dict[str, Any], messages: dict[str, Any]
) -> tuple[dict[int, dict[str, str]], dict[int, str]]:
    """Return ({group id: {key, message}}, {subgroup id: message}) in Russian."""
    groups = name_map(meta_groups["groups"], messages["groups"])
    named = name_map(meta_groups["subgroups"], messages["subgroups"])
    subgroups = {num: v["message"] for num, v in named.items()}
    return groups, subgroups


def natural_list(words: list[str]) -> str:
    """Join words the Russian way: «a, b и c»."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " и " + words[-1]


def describe(label: str, category: str, subcategory: str, tags: list[str]) -> str:
    """Write a short factual Russian description from the label, groups and tags."""
    text = (
        f"Дизайн машинной вышивки «{label}» из раздела «{category} / {subcategory}». "
        "Цветной мотив в стиле эмодзи."
    )
    others = [t for t in tags if t != label]
    if others:
        text += f" Ключевые слова: {natural_list(others)}."
    return text


def product_row(
    entry: dict[str, Any], groups: dict[int, dict[str, str]], subgroups: dict[int, str]
) -> dict[str, Any]:
    """Turn one emojibase entry into a catalogue row (without checking the artwork)."""
    product_id = entry["hexcode"].lower()
    label = fix_homoglyphs(entry["label"].strip())
    category = groups[entry["group"]]["message"]
    subcategory = subgroups[entry["subgroup"]]
    tags = unique_lower(fix_homoglyphs(t) for t in entry.get("tags") or ())
    return {
        "id": product_id,
        "title": capitalize_first(label),
        "category": capitalize_first(category),
        "subcategory": capitalize_first(subcategory),
        "tags": "; ".join(tags),
        "description": describe(label, category, subcategory, tags),
        "price": synthetic_price(product_id),
        "image": f"images/{product_id}.png",
    }
