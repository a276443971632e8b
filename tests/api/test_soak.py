"""benchmarks/soak.py for a few seconds against a real server (the fixture model): every kind of traffic is
sent, hostile input is refused with a 4xx, nothing gets a 5xx, a hung solve's worker is replaced."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def soak(load_script: Callable[[str, Path], ModuleType]) -> ModuleType:
    return load_script("api_soak_bench", REPO / "benchmarks" / "soak.py")


def test_soak_runs_for_a_few_seconds(
    soak: ModuleType,
    serve: Callable[..., AbstractContextManager[str]],
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "soak.json"
    with serve(model_dir) as url:
        args = ["--url", url, "--minutes", "0.1", "--calibrate-s", "2", "--clients", "4", "--json", str(out)]
        code = soak.main(args)
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    assert report["requests"] == sum(report["by_status"].values()) > len(soak.WEIGHTS)
    assert set(report["by_kind"]) == set(soak.WEIGHTS)  # every kind was sent at least once
    assert report["5xx"] == 0 and report["unexpected"] == {}, report
    for kind in soak.HOSTILE:
        assert all(s.startswith("4") for s in report["by_kind"][kind]["statuses"]), kind
    assert report["late"] == 0 and report["missing_request_id"] == 0
    assert set(report["by_route"]) == {"/solve", "/recognize", "/symbol"}
    solver = report["solver"]
    assert solver["hanging_sent"] >= 1
    assert solver["workers_replaced"] >= solver["timeouts"] >= solver["timeouts_answered"]
    assert report["after"] == {"ready_status": 200, "solve_status": 200}
    assert report["rss_mb"]["start_mb"] > 0 and report["rss_mb"]["end_mb"] > 0
    assert code == (0 if report["ok"] else 1)


def test_soak_refuses_what_is_not_loopback(soak: ModuleType) -> None:
    with pytest.raises(ValueError, match="loopback"):
        soak.run_soak("http://example.org:8000", minutes=0.1)
    with pytest.raises(ValueError, match="minutes"):
        soak.run_soak("http://127.0.0.1:9", minutes=soak.MAX_MINUTES + 1)
