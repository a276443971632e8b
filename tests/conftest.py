"""Shared test fixtures.

Tests that need the full CROHME data read it from `../shared/crohme` beside the
checkout (CI has it there). On a user's machine it is absent: those tests skip
with a clear reason; everything else runs on the small committed fixtures in
`tests/fixtures/`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_CROHME = Path(os.environ.get("SEQ2LATEX_CROHME", REPO_ROOT.parent / "shared" / "crohme"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def crohme_root() -> Path:
    """The full CROHME root (inkml/ + offline/); skips when it is not present."""
    if not (SHARED_CROHME / "offline").is_dir():
        pytest.skip(
            f"full CROHME data not found at {SHARED_CROHME} "
            "(set SEQ2LATEX_CROHME to a CROHME root to run this test)"
        )
    return SHARED_CROHME
