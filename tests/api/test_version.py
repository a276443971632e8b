"""The package is versioned with its releases, each in CHANGELOG.md, and the service says which one runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from seq2latex import __version__
from seq2latex.recognizer import DEFAULT_MODEL_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_everywhere_and_its_changelog_entry(client: TestClient) -> None:
    pyproject = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.MULTILINE)
    assert pyproject and pyproject.group(1) == __version__ != "0.1.0"
    releases = re.findall(r"^## (\d+\.\d+\.\d+)", (ROOT / "CHANGELOG.md").read_text(), flags=re.MULTILINE)
    assert releases[0] == __version__, releases  # the newest entry is this version
    model = json.loads((DEFAULT_MODEL_DIR / "card.json").read_text())["version"]
    entry = (ROOT / "CHANGELOG.md").read_text().split(f"## {__version__}", 1)[1].split("\n## ", 1)[0]
    assert model in entry, "the release names the model it ships"
    assert client.get("/version").json()["package"] == __version__
    assert client.get("/openapi.json").json()["info"]["version"] == __version__
