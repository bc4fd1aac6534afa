"""The seam between the query layer and an engine: what a backend executes and returns.

``search()`` parses and plans (``search._plan``); a backend executes plans
over one index and serves its stored articles. The relaxation policy is the
backend-independent ``search._tiers.select``; snippets, highlights and the
result types are the query layer's, built from the stored fields a backend
returns, so a second engine plugs in without touching parsing, snippets or the web.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from search._exact import Requirement
from search._plan import Plan
from search._types import IndexInfo

Stored = Mapping[str, Any]  # an article's stored fields, by ``indexer.schema`` field name


@dataclass(frozen=True)
class Ranked:
    """One listed article: its stored fields, score, tier and how many reprints fold into it."""

    stored: Stored
    score: float
    tier: str  # "exact", "regional" or "partial"
    duplicates: int = 0


@dataclass(frozen=True)
class Outcome:
    """A plan's answer: the page asked for, and the counts of every tier."""

    hits: tuple[Ranked, ...]
    exact: int  # articles holding every word and phrase as typed
    regional: int  # further articles holding them only in a regional form
    partial: int  # further articles listed, lacking some word
    groups: int  # listed articles once reprints are folded (what the pages count)
    facets: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    facets_of: str = "exact"  # "exact": the facets count the exact tier; "listed": every listed article
    partial_shards: int = 0  # shards that did not answer: the counts and hits leave their articles out

    @property
    def listed(self) -> int:
        return self.exact + self.regional + self.partial


class Backend(Protocol):
    """One open index, as one thread sees it."""

    @property
    def vocabulary_dir(self) -> Path:
        """The folder holding the index's vocabulary files (``indexer.vocab``)."""

    def info(self) -> IndexInfo:
        """What this index serves."""

    def execute(self, plan: Plan) -> Outcome:
        """The plan's page of ranked articles, its tier counts and facets; reprints folded
        (unless ``plan.reprints_of``). Raises ``ArticleNotFoundError`` for an unknown reprints_of."""

    def count(self, plan: Sequence[Requirement]) -> int:
        """How many live articles satisfy every requirement."""

    def article(self, article_id: str) -> Stored:
        """One article's stored fields; ``ArticleNotFoundError`` when there is none."""

    def related(self, article_id: str, limit: int) -> tuple[Ranked, ...]:
        """Up to ``limit`` articles like this one, its reprints and each other's left out."""
