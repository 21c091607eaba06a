"""The relevance floor: whether a query is answered at all, and which candidates it keeps.

Nonsense must get «ничего не найдено», so a query is answered only when some candidate
has strong evidence: an emoji or lexical match covering enough of the query, a category
it names, or a vector z-score above the gate (higher when most of its Russian words are
unknown to the catalogue and to every rule). An answered query then keeps the candidates
whose evidence reaches ``min_item_z`` (or a ``keep_z`` space's own threshold). The
thresholds were chosen by measurement: docs/ranking.md «The floor's trade-off».
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .fusion import Fused
from .words import WordSignals

if TYPE_CHECKING:
    from .ranking import RankingConfig


class RelevanceFloor:
    """The floor for one understood query (its term ``groups``) under ``config``."""

    def __init__(
        self, config: RankingConfig, words: WordSignals, groups: Sequence[tuple[str, ...]]
    ) -> None:
        """Judge candidates of the query whose term groups are ``groups``."""
        self.config, self.words, self.groups = config, words, groups

    def answers(self, fused: Sequence[Fused]) -> bool:
        """Whether some candidate's evidence in the floor's spaces reaches the gate."""
        gate = self.gate()
        return any(self.evidence(f, self.config.floor_prefix) >= gate for f in fused)

    def gate(self) -> float:
        """The vector z a query needs to be answered: higher when most of its Russian words
        are unknown to the catalogue and to every rule (the shop does not sell that)."""
        vocabulary = self.words.lexical.vocabulary
        russian = [g for g in self.groups if any("а" <= ch <= "я" for ch in g[0])]
        unknown = sum(not any(w in vocabulary for w in g) for g in russian)
        if russian and unknown * 2 > len(russian):
            return max(self.config.min_query_z, self.config.unexplained_z)
        return self.config.min_query_z

    def evidence(self, item: Fused, prefixes: str | tuple[str, ...]) -> float:
        """The strongest evidence for a candidate, on the vector z-score scale.

        An exact emoji or a lexical match covering enough of the query counts as
        certain; otherwise it is the best z-score among the spaces named by ``prefixes``.
        """
        evidence = item.evidence
        if "emoji" in evidence:
            return float("inf")
        if ("lexical" in evidence or "meaning" in evidence) and (
            self.words.coverage(item.row, self.groups) >= self.config.min_coverage
        ):
            return float("inf")
        if evidence.get("category", (0.0, 0.0, 0))[1] >= self.config.min_coverage:
            return float("inf")  # the query names this design's category
        return max(
            (
                calibrated
                for name, (_, calibrated, _) in evidence.items()
                if name.startswith(prefixes)
            ),
            default=float("-inf"),
        )

    def keeps(self, item: Fused) -> bool:
        """Whether an answered query keeps ``item``: text evidence at ``min_item_z``, or a
        ``keep_z`` space's z-score at that space's own threshold."""
        if self.evidence(item, self.config.keep_prefix) >= self.config.min_item_z:
            return True
        return any(
            item.evidence[name][1] >= z
            for name, z in self.config.keep_z.items()
            if name in item.evidence
        )
