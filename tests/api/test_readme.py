"""What the README tells a newcomer matches the shipped model and the service's real answers."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from seq2latex.recognizer import DEFAULT_MODEL_DIR

README = Path(__file__).resolve().parents[2] / "README.md"


def _opening(lines: int = 20) -> str:
    return "\n".join(README.read_text().splitlines()[:lines])


def test_opening_says_how_often_a_formula_is_read_right() -> None:
    """The one figure a newcomer needs, in the first lines, equal to the card's, with a link to Results."""
    card = json.loads((DEFAULT_MODEL_DIR / "card.json").read_text())
    exprate = card["metrics"]["crohme2014_exprate_beam3"]  # the service reads with beam 3
    opening = _opening()
    assert f"**{exprate:.1f} %**" in opening and "CROHME 2014" in opening and "beam 3" in opening
    assert "[Results](#results)" in opening and "\n## Results\n" in README.read_text()
    threshold = card["confirmation"]["by_beam"]["3"]["threshold"]
    assert f"below {threshold}" in opening and "needs_confirmation" in opening


def _error_codes_named_with(status: int, text: str) -> set[str]:
    return set(re.findall(rf"{status}\s+`([a-z_]+)`", text.replace("\n", " ")))


def test_readme_names_the_413_codes_the_service_returns(make_client: Callable[..., TestClient]) -> None:
    """An oversized upload is `payload_too_large`, too many pixels `image_too_large`: as the README says."""
    client = make_client(max_upload_bytes=2000, max_pixels=10_000)
    buf = io.BytesIO()
    Image.new("L", (200, 100), 255).save(buf, format="PNG")  # small file, 20,000 pixels
    pixels = client.post("/recognize", files={"file": ("wide.png", buf.getvalue())})
    upload = client.post("/recognize", files={"file": ("big.png", bytes(5000))})
    assert pixels.status_code == upload.status_code == 413
    codes = {pixels.json()["error"]["code"], upload.json()["error"]["code"]}
    assert codes == {"image_too_large", "payload_too_large"}
    named = _error_codes_named_with(413, README.read_text())
    assert codes <= named, named
    assert "one code, `image_too_large`" not in README.read_text().replace("\n", " ")


def test_readme_says_what_the_load_benchmark_needs() -> None:
    text = README.read_text().replace("\n", " ")
    at = text.index("benchmarks/load_bench.py --clients")
    assert "pip install -e '.[dev]'" in text[at - 200 : at + 50]


ROOT = README.parent
# What a reader of README, docs and configs must not meet: issue numbers, calls of an outside runner
# (the project's own commands are `bash scripts/gpu_train.sh OUT` and the like), and folders that only
# the machine the project was made on has.
_FORBIDDEN = {
    "issue number": re.compile(r"\bissues?\s*#?\d+|(?<![\w&/\"'])#\d{1,4}\b", re.IGNORECASE),
    "runner call": re.compile(r"device tool|\brun\s+command=|\bcarry=\[|\btimeout_s=\d", re.IGNORECASE),
    "machine-local folder": re.compile(r"shared/gpu-runs"),
}


def _offences(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for what, pattern in _FORBIDDEN.items():
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()[:100]}")
    return found


def test_readme_is_short_and_for_users() -> None:
    """At most 300 lines; training, GPU windows, studies and model history live in docs/."""
    text = README.read_text()
    assert len(text.splitlines()) <= 300, len(text.splitlines())
    for heading in ("## Results", "## The service", "## The demo page", "## The command line"):
        assert f"\n{heading}\n" in text, heading
    for moved in ("### On a GPU", "smoke_min_samples_per_s", "## Training and evaluation", "recipe study (equal"):
        assert moved not in text, moved
    assert text.count("\n| model |") == 1, "one results table"


def test_readme_keeps_its_two_set_up_commands() -> None:
    text = README.read_text()
    for name in ("start", "test"):
        block = re.search(rf"<!-- ci:{name} -->\n```bash\n(.+)\n```\n<!-- /ci:{name} -->", text)
        assert block and block.group(1).startswith("python -m venv .venv && . .venv/bin/activate && pip install -e ")


def test_readme_docs_and_configs_have_no_issue_numbers_runner_calls_or_local_folders() -> None:
    paths = [README, *sorted((ROOT / "docs").glob("*.md"))]
    paths += [*sorted((ROOT / "configs").rglob("*.yaml")), *sorted((ROOT / "scripts").glob("*.sh"))]
    assert not _offences(paths), "\n".join(_offences(paths))


def test_the_shipped_model_cards_have_no_issue_numbers_or_runner_calls() -> None:
    """The card is user-facing (`/version` gives its note): it says what a run was, not which issue asked."""
    paths = sorted((ROOT / "seq2latex" / "weights").rglob("card.json"))
    assert paths
    assert not _offences(paths), "\n".join(_offences(paths))


def test_docs_links_point_at_files_that_exist() -> None:
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.relative_to(ROOT)} links to missing {target}"
