"""Every tuning constant of ranking, in one typed, documented object.

:class:`RankingSettings` groups the knobs by the stage they steer: how words are indexed
and understood (:class:`WordSettings`) and what the shop knows beyond them
(:class:`KnowledgeSettings`), how signals are fused (:class:`FusionSettings`),
where the relevance floor stands (:class:`FloorSettings`) and where an answer ends
(:class:`ConfidenceSettings`), how a picture is read
(:class:`PictureSettings`) and how recommendations are made (:class:`RecommendSettings`).
Each field says what it does, its unit, and how its value was chosen (on which data);
docs/ranking.md has the sweeps. Nothing else in the search core holds a weight or a
threshold.

The engine gets one frozen instance, built by :func:`from_config` from the app's
configuration: the ``RANKING`` setting (a mapping, or JSON in the environment) overrides
fields by dotted path (``{"floor.min_query_z": 5.5, "fusion.weights.lexical": 2.5}``), and
the older per-setting keys (``RECOMMEND_*``, ``COVISIT_PRIOR``, ``PICTURE_RESULTS``…) fill
their fields. :attr:`RankingSettings.fingerprint` is part of every ranked-list cache key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .signals import SignalKind

INF = math.inf
#: kinds that rank designs by likeness to a picture, a design or a taste: always answered,
#: ended by a count (the floor's thresholds for them are -inf)
NEIGHBOUR_KINDS = (SignalKind.LOOK, SignalKind.CONTENT, SignalKind.TASTE, SignalKind.COVISIT)


def _weights() -> dict[SignalKind, float]:
    """The shipped fusion weight of each kind of signal (see :attr:`FusionSettings.weights`)."""
    return {
        SignalKind.TEXT: 1.0,
        SignalKind.LEXICAL: 2.0,
        SignalKind.MEANING: 1.5,
        SignalKind.MEANING_VECTOR: 0.5,
        SignalKind.CATEGORY: 1.0,
        SignalKind.EMOJI: 10.0,
        SignalKind.DEFINITION: 1.0,
        SignalKind.COLOUR: 1.0,
        SignalKind.IMAGE: 0.5,
        SignalKind.COMBINED: 0.5,
        SignalKind.CROSS_MODAL: 0.2,
        SignalKind.LOOK: 1.0,
        SignalKind.PHOTO_WORDS: 2.0,
        SignalKind.CONTENT: 1.0,
        SignalKind.TASTE: 1.0,
        SignalKind.COVISIT: 1.0,
    }


@dataclass(frozen=True)
class WordSettings:
    """How the catalogue's words are indexed and a query's words understood."""

    title_weight: int = 3
    """How many times a design's title lemmas are repeated in its BM25 document (tags and
    the description count once per repeat below): titles name the design. Chosen with the
    dev set in the first ranking sweep (docs/ranking.md «Fusion»)."""
    tag_weight: int = 2
    """Repeats of a design's tag lemmas in its BM25 document (between title and description)."""
    bm25_k1: float = 1.2
    """BM25 term-frequency saturation (``k1``); the textbook value, which the repeats above
    rely on to weigh titles and tags without swamping the description."""
    bm25_b: float = 0.5
    """BM25 length normalisation (``b``): halved from the textbook 0.75 because long generated
    descriptions are not less relevant, only wordier."""
    typo_cutoff: float = 0.8
    """Similarity (difflib ratio, 0–1) a catalogue word needs to replace a query word that
    the catalogue does not know (``бабчка`` → ``бабочка``)."""
    respell_cutoff: float = 0.7
    """The looser similarity for the «возможно, вы имели в виду» suggestion after nothing was
    found (a suggestion is only shown, never searched silently)."""
    letters_per_edit: int = 3
    """A typo correction may differ by at most one edit per this many letters of the typed
    word (at least one): «кот» is never corrected into «кит»'s neighbours."""
    min_typo_length: int = 4
    """Words shorter than this (letters) are never respelt: too many real words are near."""
    typo_length_window: int = 2
    """A correction's length may differ from the typed word's by at most this many letters."""
    layout_share: float = 0.5
    """Latin words are re-typed as Russian («gtne[» → «петух») when more than this share of
    them become dictionary words, so English queries («dinosaur») stay English."""
    thesaurus_known_words: bool = True
    """Whether the general thesaurus also expands words the catalogue itself uses (the
    occasions calendar and staff rules always do). On: dev meaning queries 0.650 → 0.667
    nP@5 with the dev set unchanged (docs/ranking.md «Meaning beyond the words»)."""
    meaning_vector_words: int = 8
    """At most this many words a concept rule added are embedded together as the «meaning»
    vector (longer lists dilute it; 8 covers every occasion rule's core motifs)."""


@dataclass(frozen=True)
class KnowledgeSettings:
    """How the shop's knowledge beyond its own words is read: Wiktionary's definitions and
    the pictures' colours (docs/knowledge.md for the standalone measurements)."""

    decode_words: bool = True
    """A query word the catalogue does not use counts as the base word its definition
    names («тачка» → автомобиль, «зайка» → заяц, «мобила» → мобильный телефон). On 51
    colloquial and synonym words the catalogue lacks: 35 right, 1 wrong, 15 undecoded;
    2 of 99 nonsense queries get a word (docs/knowledge.md)."""
    decode_genus: bool = False
    """…and, where no base word is given, the genus heading its definition («барбос» —
    «дворовая собака» → собака): six more right words, but 15 more nonsense queries let
    through, so off."""
    definition_title_weight: int = 2
    """A design's title words count this many times its tag words in its definitions
    document (the reverse dictionary)."""
    definition_k1: float = 1.2
    """BM25 ``k1`` of the reverse dictionary."""
    definition_b: float = 0.75
    """BM25 ``b`` of the reverse dictionary (definitions vary in length with the number of
    senses, which is noise: full normalisation)."""
    definition_min_words: int = 2
    """The reverse dictionary is asked only for a description: a query of at least this
    many content words, or one with a word neither the catalogue nor a rule explains
    (one known word is a name, and its own designs are its answer)."""
    colour_match: float = 0.3
    """A design shows a query's colour word when its palette answers the word at least this
    much (``colour_words.colour_match``: the colour's share of the motif, near hues at half):
    20 of 20 designs' palettes were right by eye at this share (docs/knowledge.md)."""


@dataclass(frozen=True)
class FusionSettings:
    """How signals' candidates are combined into one ranked list."""

    method: str = "weighted"
    """``weighted``: the weighted sum of calibrated scores; ``rrf``: weighted reciprocal rank
    fusion, kept as the measured alternative (weighted won on the dev set by +0.02 nP@5,
    docs/ranking.md «Fusion: calibrated weighted sum, not RRF»)."""
    rrf_k: int = 60
    """RRF's rank offset ``k`` in ``w / (k + rank)``: the value of the original RRF paper."""
    weights: Mapping[SignalKind, float] = field(default_factory=_weights)
    """Weight of each kind of signal in the fused score; every kind must have one (there is
    no implicit default). The query's own sentence vector (``text``) is the unit; BM25 of the
    query's words 2.0 (swept 1–3 on the dev set); words a concept rule added 1.5 and their
    joint vector 0.5 (dev meaning queries); the category tree 1.0; an exact emoji 10 (always
    first); ruCLIP's image and combined spaces 0.5 each (untested on real weights); the
    trained cross-modal space 0.2 (docs/training.md); a picture's look 1.0 and a photo's
    class words 2.0 × photo-likeness × the top class's probability (38 photos,
    docs/images.md); «похожие», taste and co-visits 1.0 (they are fused alone, or with
    their own per-query strengths)."""
    candidates: int = 100
    """Candidates each signal proposes (kNN k, BM25 top-k): enough that the relevant designs
    of every dev query are among them (docs/ranking.md)."""
    stats_sample: int = 32_768
    """Rows sampled (evenly spaced) to estimate a vector space's mean and covariance for
    z-scores: exact up to this size; at a million rows the estimate moves z by < 0.01 and
    costs a second instead of reading every mapped page (docs/scaling.md)."""

    def weight(self, kind: SignalKind) -> float:
        """The weight of ``kind`` (a ``KeyError`` names a kind without one)."""
        return self.weights[kind]


@dataclass(frozen=True)
class FloorSettings:
    """The relevance floor: whether a query is answered, and which candidates it keeps."""

    min_query_z: float = 5.0
    """A word query is answered only if a candidate's vector evidence in an opening kind
    (:attr:`open_kinds`) stands this many σ above the catalogue's mean cosine (or a lexical,
    category or emoji match is certain). Swept on the dev sets with 56 nonsense queries:
    dev nonsense 0.66 → 0.86 at 5.0 with real answers unchanged (docs/ranking.md «The
    floor's trade-off»)."""
    unexplained_z: float = 6.0
    """The gate for a query most of whose Russian words neither the catalogue nor a rule
    knows («кредитный рейтинг заемщика»): its vector evidence must reach this z (same sweep)."""
    unexplained_share: float = 0.5
    """A query counts as unexplained when more than this share of its Russian words is
    unknown to the catalogue and every rule."""
    min_coverage: float = 0.5
    """Share of the query's words (0–1) a lexical or category match must cover to count as
    certain evidence; a design naming half of «котёнок в шляпе» is an answer."""
    open_kinds: frozenset[SignalKind] = frozenset(
        {SignalKind.TEXT, SignalKind.CROSS_MODAL, *NEIGHBOUR_KINDS}
    )
    """Kinds whose calibrated score may open the gate. The offline text spaces were
    calibrated for it; the cross-modal space joined them by measurement (docs/training.md);
    a picture's look, «похожие», taste and co-visits always open (:attr:`open_z`)."""
    open_z: Mapping[SignalKind, float] = field(
        default_factory=lambda: dict.fromkeys(NEIGHBOUR_KINDS, -INF)
    )
    """Per-kind gates replacing :attr:`min_query_z` for kinds with their own scale: every
    picture is answered with its look-alikes, every design with its neighbours."""
    keep_z: Mapping[SignalKind, float] = field(
        default_factory=lambda: {
            SignalKind.TEXT: 3.5,
            SignalKind.CROSS_MODAL: 2.5,
            SignalKind.MEANING_VECTOR: 4.4,
            **dict.fromkeys(NEIGHBOUR_KINDS, -INF),
        }
    )
    """Once a query is answered, a candidate with no certain evidence is kept when its
    calibrated score in one of these kinds reaches the kind's value: the query's own text
    vector at 3.5σ (dev sweep), the cross-modal space at 2.5σ (it finds designs whose words
    say nothing, docs/training.md), the rules' «meaning» vector at 4.4σ (dev meaning
    queries); a picture's look, «похожие», taste and co-visits always (the answer's length
    is the caller's limit: :attr:`PictureSettings.results`, a card's row)."""

    def gate(self, kind: SignalKind, unexplained: bool) -> float:
        """The calibrated score a ``kind`` candidate needs to open the gate."""
        base = self.open_z.get(kind, self.min_query_z)
        return max(base, self.unexplained_z) if unexplained else base


def _first_stage() -> dict[str, float]:
    """The first stage's weights, fitted on the dev sets (see :class:`ConfidenceSettings`)."""
    return {
        "bias": -8.47437, "relative": 6.17543, "score": 0.12969, "own": 3.76618,
        "coverage": 2.70117, "z_text": 0.31635, "no_text": 2.02443, "z_gap": 0.11453,
        "z_cross": 0.22173, "z_meaning": -0.20069, "lexical": -4.74702, "meaning": 0.17035,
        "category": -1.25941, "emoji": 4.4971, "log_rank": 0.0326, "definition": 0.42675,
        "colour": -0.00066,
    }  # fmt: skip


def _second_stage() -> dict[str, float]:
    """The second stage's weights, fitted on the dev sets (see :class:`ConfidenceSettings`)."""
    return {
        "bias": -11.59105, "relative": 7.93288, "score": 0.19004, "own": 4.65746,
        "coverage": 3.53936, "z_text": 0.45652, "no_text": 2.35996, "z_gap": 0.04981,
        "z_cross": 0.18501, "z_meaning": -0.26882, "lexical": -5.35698, "meaning": 0.37731,
        "category": -1.86247, "emoji": 4.28992, "log_rank": 0.20833, "definition": 0.55555,
        "colour": 0.47799, "head_text": 2.67091, "head_cross": 1.44923, "first": -3.97445,
        "first_best": -0.9213,
    }  # fmt: skip


@dataclass(frozen=True)
class ConfidenceSettings:
    """Where a word query's answer ends: each candidate's confidence (``search/confidence.py``)
    against these thresholds. Chosen on the dev sets, out of fold, by
    ``benchmarks/calibrate_confidence.py`` (docs/ranking.md «Where the answer ends»): from
    the z thresholds alone to these, on 123 answered dev queries out of fold, the share of
    the first page on topic went 0.502 → 0.847 with judged designs on the first page
    0.935 → 0.935 (counting «Может подойти»), nP@5 0.891 → 0.897, MRR@10 0.942 → 0.942."""

    first: Mapping[str, float] = field(default_factory=_first_stage)
    """The first stage's logistic weights, by feature (``confidence.FEATURES``), on the
    features' own scale; fitted by ``benchmarks/calibrate_confidence.py``."""
    second: Mapping[str, float] = field(default_factory=_second_stage)
    """The second stage's weights (``confidence.SECOND``: the first's features, closeness to
    the answer's head, the first stage's confidence and its best); fitted likewise."""
    head: int = 3
    """Designs (the first stage's most confident) whose mean vector is the answer's head."""
    keep: float = 0.2
    """A candidate is a confident result when its confidence (0–1) reaches this…"""
    relative: float = 0.2
    """…and this share of the best candidate's confidence (an answer ends where its
    confidence falls far below its best design's, however confident that one is)."""
    absent_z: float = -5.0
    """The z-score a candidate missing from a vector signal counts as in the model's
    features (far below any kept candidate); part of the fitted model's definition."""
    maybe: float = 0.01
    """Candidates the z thresholds keep that are not confident are shown under «Может
    подойти» down to this confidence (after the confident results, never sorted into
    them); below it, nowhere."""


@dataclass(frozen=True)
class PictureSettings:
    """How a shopper's picture is read (docs/images.md, 38 real photos)."""

    results: int = 96
    """How many look-alikes a search by picture ranks at most (``PICTURE_RESULTS``)."""
    sure_z: float = 3.0
    """A look-alike is a confident result when its fused score (the look's z-score, plus a
    photo's words) reaches this…"""
    sure_gap: float = 3.0
    """…and lies within this much of the best one's; on 38 photos and 41 designs' own
    pictures («найти все похожие»), the share of the first page on topic went 0.36 → 0.48
    (photos) and 0.25 → 0.87 (designs), answers of 1 to 31 designs instead of always 96
    (docs/images.md «Where a picture's answer ends»)."""
    maybe_z: float = 2.0
    """Less confident look-alikes down to this score follow under «Может подойти» (with
    them, judged designs on a photo's first page: 0.84, as before the end)."""
    top_classes: int = 5
    """ImageNet classes of a photo whose names are put into words."""
    flat_share: float = 0.85
    """Flat art has at least this share of its pixels in 8 colours; below it a picture counts
    as more and more photographic."""
    photo_ramp: float = 0.2
    """…fully photographic this much lower (share 0.65 and under)."""
    shown_labels: int = 2
    """How many of a photo's class names its results' explanation shows («на фото, похоже,
    кошка или рысь»): the third is rarely right when the first two are not."""


@dataclass(frozen=True)
class RecommendSettings:
    """How recommendations are made (config ``RECOMMEND_*`` and ``COVISIT_*``;
    docs/recommendations.md, simulated sessions)."""

    profile: str = "ema"
    """Taste profile of the opened designs: ``mean`` or an exponential moving average."""
    alpha: float = 0.3
    """EMA weight of the newest opened design (``RECOMMEND_EMA_ALPHA``)."""
    explore_share: float = 1 / 6
    """Share of slots that explore beyond the nearest designs."""
    explore_bucket: tuple[int, int] = (30, 300)
    """Ranks around the profile from which exploring picks are drawn."""
    query_weight: float = 0.3
    """Pull of the queries that led to a click, beside the designs themselves (< 1)."""
    space: str = ""
    """The profile's space ("" = the engine's similar space)."""
    covisit_prior: float = 3.0
    """Co-visits that weigh as much as content similarity in «с этим дизайном смотрят»."""
    half_life_days: float = 14.0
    """Days in which a co-visit's weight halves."""
    covisit_candidates: int = 3
    """«С этим дизайном смотрят» weighs this many times as many co-visited designs as it
    shows…"""
    content_candidates: int = 2
    """…and this many times as many content neighbours, so the blend has some to choose."""


@dataclass(frozen=True)
class RankingSettings:
    """Every ranking constant, by stage; one frozen instance per engine."""

    words: WordSettings = field(default_factory=WordSettings)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    fusion: FusionSettings = field(default_factory=FusionSettings)
    floor: FloorSettings = field(default_factory=FloorSettings)
    confidence: ConfidenceSettings = field(default_factory=ConfidenceSettings)
    picture: PictureSettings = field(default_factory=PictureSettings)
    recommend: RecommendSettings = field(default_factory=RecommendSettings)

    def __post_init__(self) -> None:
        """Refuse settings that cannot rank: a kind without a weight, an unknown method."""
        missing = [k.value for k in SignalKind if k not in self.fusion.weights]
        if missing:
            raise ValueError(f"ranking: no fusion weight for {missing}")
        if self.fusion.method not in ("weighted", "rrf"):
            raise ValueError(
                f"ranking: fusion.method must be weighted or rrf, not {self.fusion.method!r}"
            )

    @property
    def fingerprint(self) -> str:
        """A short digest of every value: equal settings, equal fingerprint."""
        text = json.dumps(as_dict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **paths: Any) -> RankingSettings:
        """A copy with fields replaced by dotted path: ``replace(**{"floor.min_query_z": 6})``."""
        return with_overrides(self, paths)


def as_dict(settings: Any) -> dict[str, Any]:
    """``settings`` as plain JSON-ready values (kinds by name)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value):
            value = as_dict(value)
        elif isinstance(value, Mapping):
            value = {_name(k): v for k, v in value.items()}
        elif isinstance(value, frozenset):
            value = sorted(_name(v) for v in value)
        out[f.name] = value
    return out


def _name(value: Any) -> Any:
    """A kind's name, anything else as it is."""
    return value.value if isinstance(value, Enum) else value


def with_overrides(settings: RankingSettings, overrides: Mapping[str, Any]) -> RankingSettings:
    """``settings`` with each dotted path of ``overrides`` replaced (``fusion.weights.lexical``
    sets one weight); an unknown path or a value of the wrong type is a ``ValueError``."""
    nested: dict[str, Any] = {}
    for path, value in overrides.items():
        if isinstance(value, Mapping) and "." not in path and _is_group(path):
            for sub, v in value.items():
                nested[f"{path}.{sub}"] = v
        else:
            nested[path] = value
    result = settings
    for path, value in nested.items():
        result = _replace_path(result, path.split("."), value, path)
    return result


def _is_group(name: str) -> bool:
    """Whether ``name`` is one of the settings groups (words, fusion, floor…)."""
    return name in {f.name for f in dataclasses.fields(RankingSettings)}


def _replace_path(obj: Any, parts: list[str], value: Any, path: str) -> Any:
    """``obj`` with the field at ``parts`` set to ``value`` (converted to its type)."""
    names = {f.name for f in dataclasses.fields(obj)}
    head, rest = parts[0], parts[1:]
    if head not in names:
        raise ValueError(f"ranking setting {path!r} does not exist; known here: {sorted(names)}")
    current = getattr(obj, head)
    if dataclasses.is_dataclass(current):
        if not rest:
            raise ValueError(f"ranking setting {path!r} is a group; name one of its fields")
        return dataclasses.replace(obj, **{head: _replace_path(current, rest, value, path)})
    if isinstance(current, Mapping) and rest:
        key: Any = rest[0]
        if all(isinstance(k, SignalKind) for k in current):
            key = SignalKind(key) if key in SignalKind._value2member_map_ else None
            if key is None:
                raise ValueError(f"ranking setting {path!r}: {rest[0]!r} is not a kind of signal")
        elif key not in current:
            raise ValueError(f"ranking setting {path!r}: {key!r} is not one of {sorted(current)}")
        if len(rest) != 1:
            raise ValueError(f"ranking setting {path!r} does not exist")
        return dataclasses.replace(obj, **{head: {**current, key: _convert(0.0, value, path)}})
    if rest:
        raise ValueError(f"ranking setting {path!r} does not exist")
    return dataclasses.replace(obj, **{head: _convert(current, value, path)})


def _convert(current: Any, value: Any, path: str) -> Any:
    """``value`` in the type of the field's ``current`` value."""
    try:
        if isinstance(current, bool):
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true"}
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, tuple):
            return tuple(type(c)(v) for c, v in zip(current, value, strict=True))
        if isinstance(current, frozenset):
            return frozenset(SignalKind(v) for v in value)
        if isinstance(current, Mapping):
            kinds = all(isinstance(k, SignalKind) for k in current)
            return {(SignalKind(k) if kinds else str(k)): float(v) for k, v in value.items()}
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ranking setting {path!r}: {value!r} does not fit ({exc})") from None


#: the app settings that fill ranking fields (kept for their documented names)
CONFIG_KEYS = {
    "PICTURE_RESULTS": "picture.results",
    "RECOMMEND_PROFILE": "recommend.profile",
    "RECOMMEND_EMA_ALPHA": "recommend.alpha",
    "RECOMMEND_EXPLORE_SHARE": "recommend.explore_share",
    "RECOMMEND_QUERY_WEIGHT": "recommend.query_weight",
    "RECOMMEND_SPACE": "recommend.space",
    "COVISIT_PRIOR": "recommend.covisit_prior",
    "COVISIT_HALF_LIFE_DAYS": "recommend.half_life_days",
}


def from_config(config: Mapping[str, Any]) -> RankingSettings:
    """The settings the app's configuration asks for: the documented per-setting keys, then
    the ``RANKING`` overrides (a mapping, or a JSON object as the environment gives it)."""
    paths = {path: config[key] for key, path in CONFIG_KEYS.items() if key in config}
    overrides = config.get("RANKING") or {}
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides)
        except json.JSONDecodeError as exc:
            raise ValueError(f"RANKING is not a JSON object: {exc}") from None
    if not isinstance(overrides, Mapping):
        raise ValueError("RANKING must be a JSON object of dotted setting paths")
    return with_overrides(with_overrides(RankingSettings(), paths), overrides)
