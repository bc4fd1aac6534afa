"""What keeps a server process's memory bounded: the malloc arena cap of ``python -m web``."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena cap is glibc's")
def test_python_m_web_caps_malloc_arenas_unless_the_environment_says() -> None:
    code = "from web._malloc import limit_arenas; print(limit_arenas())"
    capped = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert capped.stdout.strip() == "True"
    left = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "MALLOC_ARENA_MAX": "4"})
    assert left.stdout.strip() == "False"
