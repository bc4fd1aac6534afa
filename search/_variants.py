"""Regional forms of a query text: 网络 / 網路, 软件 / 軟體, 人工智能 / 人工智慧.

The index holds each article's text as written, in Simplified characters
(OpenCC ``t2s`` converts characters, not words). The same thing is often a
different word in Taiwan or Hong Kong, so a text also matches as its regional
forms, all found by OpenCC's phrase configurations: the mainland word of a
Taiwan or Hong Kong text (``tw2sp``, ``hk2sp``), and the Taiwan or Hong Kong
word of a mainland text (``s2twp``, ``s2hkp``), each brought to the normal form
the index uses. A form is kept only when converting it back gives the text
again, so a one-way mapping (智慧 → 智能, which would also turn "wisdom" into
"intelligence") adds nothing.

Converting the index itself would lose the text as written (a search for 智慧
would no longer find 人工智慧), so regional forms are a query-time expansion,
shown apart from the literal matches.
"""

from __future__ import annotations

from functools import lru_cache

import opencc

from indexer.matchtext import normal_form

_TO_MAINLAND = ("tw2sp", "hk2sp")
_FROM_MAINLAND = {"tw2sp": "s2twp", "hk2sp": "s2hkp"}


@lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@lru_cache(maxsize=4096)
def variants(text: str) -> tuple[str, ...]:
    """The normal form of ``text`` first, then its regional forms (normal form, distinct)."""
    base = normal_form(text)
    out = [base]
    for config in _TO_MAINLAND:
        back = _converter(_FROM_MAINLAND[config])
        mainland = normal_form(_converter(config).convert(text))
        if mainland != base and normal_form(back.convert(mainland)) == base:
            out.append(mainland)
        regional_raw = back.convert(base)
        regional = normal_form(regional_raw)
        if regional != base and normal_form(_converter(config).convert(regional_raw)) == base:
            out.append(regional)
    return tuple(dict.fromkeys(out))
