"""Every command and setting a user can reach is documented in the README."""

from __future__ import annotations

import argparse

import pytest

from indexer import settings
from indexer._cli import _parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def _subcommands() -> list[str]:
    action = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_every_indexer_command_is_documented(command: str) -> None:
    assert f"python -m indexer {command}" in README


@pytest.mark.parametrize("setting", [s.env for s in settings.SETTINGS])
def test_every_setting_is_documented(setting: str) -> None:
    assert f"`{setting}`" in README


def test_web_options_are_documented() -> None:
    assert "python -m web [--index-dir DIR] [--host 127.0.0.1] [--port 5000]" in README
