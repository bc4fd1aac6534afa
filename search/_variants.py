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

Building the two mainland-to-regional converters costs about 0.23 s (their
Simplified-to-Traditional phrase dictionary), more than a whole query, and most
texts have no regional form. ``resources/regional-triggers.txt`` lists, for the
OpenCC release it names, every string whose presence can give a text a form:

- the normal form of each key of the regional dictionaries (TW…, HK…) and of
  ``TSPhrases``, and of each such key read character by character (inside those
  phrases some characters are simplified otherwise than alone: 於倫 → 於伦, where
  於 alone is 于);
- each key of the Simplified-to-Traditional dictionaries (ST…) that does not
  come back to itself through Traditional and the normal form (于潜 → 於潛).

A text holding none of them is its own only form, and no converter is built.
With another OpenCC release the list is not used (every text is converted);
``search._variants.write_triggers()`` writes it again from the installed release.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import opencc

from indexer.matchtext import normal_form

_TO_MAINLAND = ("tw2sp", "hk2sp")
_FROM_MAINLAND = {"tw2sp": "s2twp", "hk2sp": "s2hkp"}
TRIGGERS = "resources/regional-triggers.txt"
_HEADER = "# regional forms of OpenCC {}: search._variants.write_triggers()"


@lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@lru_cache(maxsize=4096)
def variants(text: str) -> tuple[str, ...]:
    """The normal form of ``text`` first, then its regional forms (normal form, distinct)."""
    base = normal_form(text)
    triggers = _triggers()
    if triggers is not None and not _holds_any(base, *triggers):
        return (base,)
    return converted(text, base)


def converted(text: str, base: str) -> tuple[str, ...]:
    """``variants`` by the converters themselves, whatever the text holds."""
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


def _holds_any(text: str, chars: frozenset[str], by_first: dict[str, tuple[str, ...]]) -> bool:
    for i, ch in enumerate(text):
        if ch in chars:
            return True
        for s in by_first.get(ch, ()):
            if text.startswith(s, i):
                return True
    return False


@lru_cache(maxsize=1)
def _triggers() -> tuple[frozenset[str], dict[str, tuple[str, ...]]] | None:
    """The listed strings as (single characters, longer strings by first character); None when
    the list is missing or was derived from another OpenCC release."""
    try:
        lines = listed_lines()
    except OSError:
        return None
    if not lines or lines[0] != _HEADER.format(opencc.__version__):
        return None
    chars = frozenset(s for s in lines[1:] if len(s) == 1)
    by_first: dict[str, list[str]] = {}
    for s in lines[1:]:
        if len(s) > 1:
            by_first.setdefault(s[0], []).append(s)
    return chars, {c: tuple(group) for c, group in by_first.items()}


def listed_lines() -> list[str]:
    """The shipped list's lines: its header, then the strings."""
    return resources.files("search").joinpath(TRIGGERS).read_text("utf-8").splitlines()


# Deriving the list from the installed OpenCC (a test compares it with the shipped one).

_OCD2_HEADER = b"OPENCC_MARISA_0.2.5"


def derive_triggers() -> list[str]:
    """The trigger strings of the installed OpenCC, sorted (see the module's docstring)."""
    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    configs = {*_TO_MAINLAND, *_FROM_MAINLAND.values(), "t2s"}
    files = sorted({name for config in configs for name in _dictionary_files(json.loads((share / f"{config}.json").read_text("utf-8")))})
    to_traditional = opencc.OpenCC("s2t")
    out: set[str] = set()
    for name in files:
        keys = _ocd2_keys(share / name)
        stem = name.removesuffix(".ocd2")
        if stem.startswith("ST"):
            for key in keys:
                form = normal_form(key)
                if form and normal_form(to_traditional.convert(form)) != form:
                    out.add(form)
        elif stem == "TSPhrases" or stem.startswith(("TW", "HK")):
            out.update(normal_form(key) for key in keys)
            out.update(_by_character(key) for key in keys)
        elif stem not in ("TSCharacters", "TSCharactersExt", "CJK_Compatibility_Ideographs"):
            # TSCharacters… are the normal form's own character step; NFKC already maps
            # compatibility ideographs. Any other dictionary needs a rule before it is listed.
            raise ValueError(f"OpenCC dictionary {name} has no rule in search._variants")
    out.discard("")
    return sorted(out)


def _by_character(text: str) -> str:
    return "".join(normal_form(ch) for ch in text)


def _dictionary_files(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["file"]} if isinstance(node.get("file"), str) else set()
        return found.union(*(_dictionary_files(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_dictionary_files(v) for v in node))
    return set()


def _ocd2_keys(path: Path) -> list[str]:
    """The keys of an OpenCC ``.ocd2`` dictionary: a marisa trie after a fixed header."""
    import marisa_trie

    data = path.read_bytes()
    if not data.startswith(_OCD2_HEADER):
        raise ValueError(f"{path} is not an OpenCC marisa dictionary")
    return marisa_trie.Trie().frombytes(data[len(_OCD2_HEADER):]).keys()


def write_triggers(path: Path | None = None) -> int:
    """Write the list (by default the package's own), return how many strings it holds."""
    path = path or Path(__file__).parent / TRIGGERS
    strings = derive_triggers()
    path.write_text("\n".join([_HEADER.format(opencc.__version__), *strings]) + "\n", encoding="utf-8")
    return len(strings)
