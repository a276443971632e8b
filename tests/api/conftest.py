"""Fixtures of the service tests: a tiny trained model directory, apps built on it, a live server."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from seq2latex.recognizer import Recognizer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IMAGES = HERE.parent / "fixtures" / "images"
CHROMIUM = Path(os.environ.get("SEQ2LATEX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [  # headless in a container, without Chromium's own network chatter
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def load_module(name: str, path: Path) -> ModuleType:
    """Import a helper script by path (tests/ and benchmarks/ are not packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


model_fixture = load_module("api_model_fixture", HERE / "model_fixture.py")


@pytest.fixture(scope="session")
def load_script() -> Callable[[str, Path], ModuleType]:
    """`load_module` for the test modules (a benchmark script they drive, e.g. benchmarks/ink_replay.py)."""
    return load_module


@pytest.fixture(scope="session")
def captions() -> dict[str, str]:
    return json.loads((IMAGES / "captions.json").read_text())


@pytest.fixture(scope="session")
def symbol_classes() -> list[str]:
    return list(model_fixture.SYMBOL_CLASSES)


@pytest.fixture(scope="session")
def images_dir() -> Path:
    return IMAGES


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory trained for a few seconds to memorise the fixture images."""
    out = tmp_path_factory.mktemp("fixture-model")
    stats = model_fixture.build_fixture_model(out)
    assert stats["learnt"] == 1.0, f"the fixture model did not learn its images: {stats}"
    return out


@pytest.fixture(scope="session")
def recognizer(model_dir: Path) -> Recognizer:
    return Recognizer.from_pretrained(model_dir)


@pytest.fixture
def make_client(model_dir: Path, recognizer: Recognizer) -> Iterator[Callable[..., TestClient]]:
    """`make_client(**settings)` -> a started TestClient (lifespan run) sharing the loaded model."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(model_dir=model_dir, warmup=False, **overrides)
        client = TestClient(create_app(settings, recognizer=recognizer), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture(scope="session")
def load_bench() -> ModuleType:
    return load_module("api_load_bench", REPO / "benchmarks" / "load_bench.py")


@contextmanager
def _served(load_bench: ModuleType, model: Path | None, env: dict[str, str] | None = None) -> Iterator[str]:
    port = load_bench.free_port()
    proc = load_bench.start_server(model, port, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        load_bench.stop_server(proc)


@pytest.fixture(scope="session")
def serve(load_bench: ModuleType) -> Callable[..., AbstractContextManager[str]]:
    """`serve(model_dir or None for the shipped model, env)`: `seq2latex serve` on 127.0.0.1:<free port>
    as a child process, for a `with` block; yields its URL."""
    return partial(_served, load_bench)


@pytest.fixture(scope="session")
def live_server(model_dir: Path, serve: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """`seq2latex serve --model <fixture model>`. The tiny fixture model's confidences mean little (often
    near 0 % on images it reads right), so this server never asks for confirmation; test_live.py's
    `doubting_server` always does."""
    with serve(model_dir, {"SEQ2LATEX_CONFIRM_BELOW": "0"}) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (skips without either)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip package playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shipped_server(serve: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """`seq2latex serve` with the shipped model (its own confirmation threshold)."""
    with serve(None) as url:
        yield url
