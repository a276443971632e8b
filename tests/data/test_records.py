"""Readers and source discovery: folders, zips, offline layouts, skipped files."""

from __future__ import annotations

import json
import pickle
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from data.inspect import source_stats
from data.records import (
    Record,
    discover_sources,
    iter_inkml_records,
    iter_offline_records,
    read_all,
    read_source,
)


@pytest.fixture(scope="module")
def root(fixtures_dir: Path) -> Path:
    return fixtures_dir / "crohme"


def _zip_dir(src: Path, dest: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, prefix + f.relative_to(src).as_posix())
    return dest


def test_discover_crohme_root(root: Path) -> None:
    found = [(s.name, s.kind) for s in discover_sources(root)]
    assert found == [
        ("inkml/test2014", "inkml"),
        ("inkml/train", "inkml"),
        ("offline/2014", "offline"),
        ("offline/train", "offline"),
    ]
    assert [(s.name, s.kind) for s in discover_sources(root / "inkml" / "train")] == [(".", "inkml")]
    assert [(s.name, s.kind) for s in discover_sources(root / "offline" / "2014")] == [(".", "offline")]
    assert [s.name for s in discover_sources(root / "inkml")] == ["test2014", "train"]


def test_inkml_source_skips_empty_file_with_warning(root: Path) -> None:
    n_files = len(list((root / "inkml" / "train").rglob("*.inkml")))
    with pytest.warns(UserWarning, match="MfrDB3088"):
        result = read_source(discover_sources(root / "inkml" / "train")[0])
    assert len(result.records) == n_files - 1
    assert result.skipped == [{"file": "MfrDB/MfrDB3088.inkml", "reason": "empty file"}]
    names = {r.name for r in result.records}
    assert "MfrDB0104" in names and "MfrDB3088" not in names
    rec = next(r for r in result.records if r.name == "MfrDB0104")
    assert rec.latex.startswith("c \\cdot ( \\sqrt [ 3 ] { 2 } )")
    assert rec.kind == "inkml" and rec.image is None and rec.symbols


def test_inkml_latex_is_normalized_like_captions(root: Path) -> None:
    with pytest.warns(UserWarning):
        ink = {r.name: r.latex for r in iter_inkml_records(root / "inkml" / "train")}
    off = {r.name: r.latex for r in iter_offline_records(root / "offline" / "train")}
    assert set(off) <= set(ink)
    same = sum(ink[n] == off[n] for n in off)
    assert same >= len(off) - 1  # InkML truth and standard captions agree after normalisation


def test_offline_folder_lazy_images(root: Path) -> None:
    recs = list(iter_offline_records(root / "offline" / "2014"))
    captions = (root / "offline" / "2014" / "caption.txt").read_text().splitlines()
    assert len(recs) == len(captions)
    rec = recs[0]
    assert rec.strokes is None and rec.kind == "offline"
    im = rec.image
    assert isinstance(im, Image.Image) and im.mode == "L"
    assert rec.image_size() == im.size
    clone = pickle.loads(pickle.dumps(rec))  # DataLoader workers receive records by pickling
    assert clone.name == rec.name and clone.image.size == im.size


def test_offline_bmp_with_suffix_and_missing_image(tmp_path: Path, root: Path) -> None:
    split = tmp_path / "2014"
    (split / "images").mkdir(parents=True)
    lines = (root / "offline" / "2014" / "caption.txt").read_text().splitlines()
    for line in lines[:2]:
        name = line.split("\t")[0]
        Image.open(root / "offline" / "2014" / "img" / f"{name}.png").save(split / "images" / f"{name}_0.bmp")
    shutil.copyfile(
        root / "offline" / "2014" / "img" / f"{lines[2].split()[0]}.png", split / f"{lines[2].split()[0]}.JPG"
    )
    (split / "caption.txt").write_text("\n".join(lines) + "\n")
    skipped: list[dict[str, str]] = []
    with pytest.warns(UserWarning, match="caption without image"):
        recs = list(iter_offline_records(split, skipped))
    assert len(recs) == 3 and len(skipped) == len(lines) - 3
    assert all(r.image is not None for r in recs)


def test_zip_of_root_gives_same_counts(tmp_path: Path, root: Path) -> None:
    archive = _zip_dir(root, tmp_path / "crohme.zip", prefix="data/")
    with pytest.warns(UserWarning):
        folder = {r.source.name: len(r.records) for r in read_all(root)}
        zipped = {r.source.name.removeprefix("data/"): len(r.records) for r in read_all(archive)}
    assert zipped == folder
    offline = [s for s in discover_sources(archive) if s.kind == "offline"]
    rec = read_source(offline[0]).records[0]
    assert rec.image is not None and rec.image.size == rec.image_size()
    assert pickle.loads(pickle.dumps(rec)).image.size == rec.image.size


def test_stats_on_fixtures(root: Path) -> None:
    stats = source_stats(root)["sources"]
    by = {s["name"]: s for s in stats}
    assert set(by) == {"inkml/train", "inkml/test2014", "offline/train", "offline/2014"}
    for s in stats:
        assert list(s) == [
            "name",
            "kind",
            "expressions",
            "skipped",
            "symbols",
            "symbol_classes",
            "unk_tokens",
        ]
        assert s["unk_tokens"] == 0
    train = by["inkml/train"]
    assert train["expressions"] == len(list((root / "inkml" / "train").rglob("*.inkml"))) - 1
    assert [k["file"] for k in train["skipped"]] == ["MfrDB/MfrDB3088.inkml"]
    assert train["symbols"] > 100 and 20 < train["symbol_classes"] <= 101
    assert by["offline/train"]["symbols"] == 0 and by["offline/train"]["symbol_classes"] == 0
    json.dumps(stats)


def test_full_crohme_stats(crohme_root: Path) -> None:
    """The issue's numbers on the full shared data (about 10 s on one core)."""
    start = time.monotonic()
    by = {s["name"]: s for s in source_stats(crohme_root)["sources"]}
    expected = {
        "inkml/train": 8835,
        "inkml/test2014": 986,
        "inkml/test2016": 1147,
        "offline/train": 8835,
        "offline/2014": 986,
        "offline/2016": 1147,
    }
    assert {k: v["expressions"] for k, v in by.items()} == expected
    assert [k["file"] for k in by["inkml/train"]["skipped"]] == ["MfrDB/MfrDB3088.inkml"]
    assert all(not v["skipped"] for k, v in by.items() if k != "inkml/train")
    assert by["inkml/train"]["symbols"] > 80_000
    assert 95 <= by["inkml/train"]["symbol_classes"] <= 105
    assert all(v["unk_tokens"] == 0 for v in by.values())
    assert time.monotonic() - start < 120


def test_record_repr_and_kind() -> None:
    r = Record(name="a", latex="x", image=Image.new("L", (4, 3)))
    assert r.kind == "offline" and r.image_size() == (4, 3) and "a" in repr(r)
