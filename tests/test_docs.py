"""Every command, option and setting a user can reach is documented in the README.

What must be documented is read from the code: the argparse parsers of ``python -m indexer`` and
``python -m web`` (every subcommand, option, positional argument and choice) and the environment
variables (``indexer.settings.SETTINGS``, and any other name the packages read from the environment).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import indexer
import search
import web
from indexer import settings
from indexer._cli import _parser as indexer_parser
from tests.conftest import ROOT
from web._cli import build_parser as web_parser

README = (ROOT / "README.md").read_text("utf-8")
# Inline code of the README (the command table's rows, the prose's `--json`); a backslash-escaped
# pipe (index\|query, inside a Markdown table) is a plain pipe.
SPANS = [span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", README)]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sorted(action.choices.items()))


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def _long(action: argparse.Action) -> str:
    return max(action.option_strings, key=len)


def _mentioned(word: str, span: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", span) is not None


def _spans_with(word: str) -> list[str]:
    return [span for span in SPANS if _mentioned(word, span)]


INDEXER_COMMANDS = _subparsers(indexer_parser())
INDEXER_OPTIONS = [(name, a) for name, p in INDEXER_COMMANDS.items() for a in _options(p)]
INDEXER_POSITIONALS = [(name, a) for name, p in INDEXER_COMMANDS.items() for a in _positionals(p)]
WEB_OPTIONS = _options(web_parser())


def _command_spans(command: str) -> list[str]:
    return [span for span in SPANS if span.startswith(command + " ") or span == command]


@pytest.mark.parametrize("command", INDEXER_COMMANDS)
def test_every_indexer_command_is_documented(command: str) -> None:
    assert _command_spans(f"python -m indexer {command}"), command


@pytest.mark.parametrize(("command", "action"), INDEXER_OPTIONS, ids=[f"{c} {_long(a)}" for c, a in INDEXER_OPTIONS])
def test_every_indexer_option_is_documented(command: str, action: argparse.Action) -> None:
    option = _long(action)
    spans = _spans_with(option)
    assert spans, f"python -m indexer {command} {option} is not in the README"
    for choice in action.choices or ():
        assert any(_mentioned(str(choice), span) for span in spans), (option, choice)


@pytest.mark.parametrize(("command", "action"), INDEXER_POSITIONALS,
                         ids=[f"{c} {a.metavar or a.dest}" for c, a in INDEXER_POSITIONALS])
def test_every_indexer_argument_is_documented(command: str, action: argparse.Action) -> None:
    name = str(action.metavar or action.dest)
    assert any(_mentioned(name, span) for span in _command_spans(f"python -m indexer {command}")), (command, name)


@pytest.mark.parametrize("action", WEB_OPTIONS, ids=[_long(a) for a in WEB_OPTIONS])
def test_every_web_option_is_documented(action: argparse.Action) -> None:
    option = _long(action)
    assert any(_mentioned(option, span) for span in _command_spans("python -m web")), option
    for choice in action.choices or ():
        assert any(_mentioned(str(choice), span) for span in _spans_with(option)), (option, choice)


def _environment_names() -> list[str]:
    """The settings, and every other variable name the packages read from the environment."""
    names = {s.env for s in settings.SETTINGS}
    read = re.compile(r"""(?:os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
    for package in (indexer, search, web):
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            names |= set(read.findall(path.read_text("utf-8")))
    return sorted(names)


@pytest.mark.parametrize("name", _environment_names())
def test_every_setting_is_documented(name: str) -> None:
    assert any(_mentioned(name, span) for span in SPANS), name


def test_the_settings_table_of_settings_py_lists_every_setting() -> None:
    listed = re.findall(r"^\| ``(ZHSEARCH_\w+)``", settings.__doc__ or "", re.M)
    assert listed == [s.env for s in settings.SETTINGS]
    assert all(s.env.startswith(settings.ENV_PREFIX) for s in settings.SETTINGS)


def test_the_parsers_are_found() -> None:
    # Guards the walk above: a parser built differently must not make these tests vacuous.
    assert {"rebuild", "update", "delete", "stats", "check", "analyze"} <= set(INDEXER_COMMANDS)
    assert {"--index-dir", "--procs", "--mode"} <= {_long(a) for _, a in INDEXER_OPTIONS}
    assert {"--index-dir", "--host", "--port", "--threads", "--workers"} <= {_long(a) for a in WEB_OPTIONS}
    assert "MALLOC_ARENA_MAX" in _environment_names()
