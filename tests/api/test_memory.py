"""api.memory: the glibc allocator settings the server applies at start (the soak's RSS target)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from api.memory import ARENA_MAX, MMAP_THRESHOLD_BYTES, tune_malloc


def _glibc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018 - present only in glibc
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _glibc(), reason="the settings are glibc's (mallopt); other C libraries keep theirs")
def test_glibc_gets_a_fixed_mmap_threshold_and_two_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert tune_malloc() == {"mmap_threshold": MMAP_THRESHOLD_BYTES, "arena_max": ARENA_MAX}


@pytest.mark.skipif(not _glibc(), reason="the settings are glibc's (mallopt); other C libraries keep theirs")
def test_an_operators_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert tune_malloc() == {"mmap_threshold": MMAP_THRESHOLD_BYTES}
