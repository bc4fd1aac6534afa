"""The relaxation policy: which articles a plan lists, in which tiers.

1. exact: every word and phrase as typed (the results' total);
2. regional: the same with regional forms only (网路 for 网络);
3. partial, only when fewer than ``RELAX_BELOW`` articles are in 1 and 2: every
   jieba word of the query's words, then, if nothing at all matched, any word,
   any bigram, any character. A phrase with exact matches shows only those; a
   one-word query with any match is never relaxed (its partial matches would
   be fragments of its word: 哥伦比亚 for 比亚迪).

The policy is written once, over the set algebra ``DocSets`` that each backend
provides (numpy masks locally; a sharded backend may use its engine's queries),
so every backend lists the same articles in the same tiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from whoosh import query as Q

from search._exact import Requirement
from search._plan import Plan

# Fewer articles than this hold every word: partial matches follow them (after a divider).
RELAX_BELOW = 10
S = TypeVar("S")


class DocSets(Protocol[S]):
    """Sets of articles of one backend, and what the policy asks of them."""

    def everything(self) -> S: ...  # every live article
    def nothing(self) -> S: ...
    def matching(self, q: Q.Query) -> S: ...  # the live articles matching a query object
    def reprint_group(self, article_id: str) -> S: ...  # raises ArticleNotFoundError
    def all_of(self, plan: Sequence[Requirement], within: S) -> S: ...
    def any_of(self, plan: Sequence[Requirement], within: S) -> S: ...
    def both(self, a: S, b: S) -> S: ...
    def either(self, a: S, b: S) -> S: ...
    def minus(self, a: S, b: S) -> S: ...
    def count(self, s: S) -> int: ...


@dataclass(frozen=True)
class Tiers(Generic[S]):
    exact: S
    regional: S
    every_word: S  # the first partial tier
    some: S  # the last partial tier: any word, bigram or character
    relaxed: bool  # the partial tiers were looked for

    @property
    def ordered(self) -> tuple[S, ...]:
        return (self.exact, self.regional, self.every_word, self.some)


TIER_NAMES = ("exact", "regional", "partial", "partial")


def allowed(plan: Plan, sets: DocSets[S]) -> S:
    """The articles the filters, the reprint group and the exclusions leave."""
    out = sets.everything()
    for f in plan.filters:
        out = sets.both(out, sets.matching(f))
    if plan.reprints_of is not None:
        out = sets.both(out, sets.reprint_group(plan.reprints_of))
    if plan.excluded:
        out = sets.minus(out, sets.any_of(plan.excluded, out))
    return out


def select(plan: Plan, sets: DocSets[S]) -> Tiers[S]:
    """The articles ``plan`` lists, tier by tier."""
    scope = allowed(plan, sets)
    none = sets.nothing()
    if plan.empty:
        return Tiers(scope, none, none, none, relaxed=False)
    exact = sets.all_of(plan.exact, scope)
    n_exact = sets.count(exact)
    regional = none
    if plan.regional is not None:
        regional = sets.all_of(plan.regional, sets.minus(scope, exact))
    found = n_exact + sets.count(regional)
    if (plan.has_phrases and n_exact) or found >= RELAX_BELOW or (found and plan.word_count < 2):
        return Tiers(exact, regional, none, none, relaxed=False)
    rest = sets.minus(sets.minus(scope, exact), regional)
    every_word = sets.all_of(plan.words, sets.both(rest, sets.matching(plan.single_words)))
    some = none
    for level, q in enumerate(plan.fallbacks):
        if level and (found or sets.count(every_word) or sets.count(some)):
            break  # bigrams and characters only when nothing else matched
        some = sets.minus(sets.both(sets.matching(q), rest), every_word)
    return Tiers(exact, regional, every_word, some, relaxed=True)
