"""Metrics: edit distance, ExpRate, <=1, <=2, token accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from seq2latex.evaluation import edit_distance, score


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("", "", 0), ("x", "", 1), ("x ^ { 2 }", "x ^ { 2 }", 0), ("x ^ { 2 }", "x _ { 2 }", 1),
     ("a b c", "b c", 1), ("a b", "b a", 2), ("\\frac { 1 } { 2 }", "1 / 2", 5)],
)  # fmt: skip
def test_edit_distance(a: str, b: str, d: int) -> None:
    assert edit_distance(a.split(), b.split()) == d
    assert edit_distance(b.split(), a.split()) == d


def test_score() -> None:
    refs = [s.split() for s in ["x + 1", "a = b", "\\sqrt { 2 }", "y"]]
    preds = [s.split() for s in ["x + 1", "a - b", "\\sqrt 2", "z z z"]]
    m = score(refs, preds)
    assert m["n"] == 4
    assert m["exprate"] == 25.0 and m["le1"] == 50.0 and m["le2"] == 75.0
    assert m["token_accuracy"] == pytest.approx(100 * (1 - (0 + 1 + 2 + 3) / 11))
    assert score([], [])["n"] == 0
    with pytest.raises(ValueError):
        score(refs, preds[:2])


def test_eval_samples_from_offline_inkml_and_zip(fixtures_dir: Path, tmp_path: Path) -> None:
    import zipfile

    from seq2latex.evaluation import iter_eval_samples

    root = fixtures_dir / "crohme"
    offline = list(iter_eval_samples(root / "offline" / "2014"))
    captions = dict(
        line.split("\t", 1) for line in (root / "offline" / "2014" / "caption.txt").read_text().splitlines()
    )
    assert len(offline) == len(captions) and all(s.reference == captions[s.name] for s in offline)
    inkml = list(iter_eval_samples(root / "inkml" / "test2014"))
    assert inkml and all(s.image.size[0] > 0 and s.reference for s in inkml)
    assert len(list(iter_eval_samples(root / "offline" / "2014", limit=2))) == 2
    zpath = tmp_path / "split.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted((root / "offline" / "2014").rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(root / "offline" / "2014").as_posix())
    zipped = list(iter_eval_samples(zpath))
    assert sorted(s.name for s in zipped) == sorted(s.name for s in offline)


def test_augmented_copy_is_fixed_by_its_seed(fixtures_dir: Path) -> None:
    import numpy as np

    from seq2latex.evaluation import augment_samples, iter_eval_samples

    split = fixtures_dir / "crohme" / "offline" / "2014"
    clean = list(iter_eval_samples(split))

    def photos(seed: int, limit: int = 0) -> list:
        return list(augment_samples(iter_eval_samples(split, limit=limit), 1.0, seed))

    a, b, other = photos(0), photos(0), photos(1)
    assert [s.name for s in a] == [s.name for s in clean]
    assert [s.reference for s in a] == [s.reference for s in clean]
    assert all(s.image.mode == "RGB" for s in a)  # coloured ink and paper, like a phone photo
    assert all(np.array_equal(np.asarray(x.image), np.asarray(y.image)) for x, y in zip(a, b, strict=True))
    assert any(
        x.image.size != y.image.size or not np.array_equal(np.asarray(x.image), np.asarray(y.image))
        for x, y in zip(a, other, strict=True)
    )
    # a sample's photo does not depend on how many samples are evaluated
    first = photos(0, limit=1)[0]
    assert np.array_equal(np.asarray(first.image), np.asarray(a[0].image))


def test_exprate_by_length_band() -> None:
    from seq2latex.evaluation import by_length, length_band

    assert [length_band(n) for n in (1, 9, 10, 19, 20, 200)] == ["<10", "<10", "10-19", "10-19", "20+", "20+"]
    refs = [["x"] * 3, ["y"] * 3, ["z"] * 12, ["w"] * 25]
    preds = [["x"] * 3, ["q"] * 3, ["z"] * 11, ["w"] * 25]
    bands = by_length(refs, preds)
    assert bands["<10"] == {"n": 2, "exprate": 50.0, "le1": 50.0, "le2": 50.0}
    assert bands["10-19"] == {"n": 1, "exprate": 0.0, "le1": 100.0, "le2": 100.0}
    assert bands["20+"]["n"] == 1 and bands["20+"]["exprate"] == 100.0


def test_eval_samples_of_a_split_and_a_source(fixtures_dir: Path) -> None:
    from seq2latex.evaluation import iter_eval_samples

    names = frozenset({"70_Frank", "MfrDB0206", "not_there"})
    got = [s.name for s in iter_eval_samples(fixtures_dir / "crohme", source="offline/train", names=names)]
    assert sorted(got) == ["70_Frank", "MfrDB0206"]
    assert {s.name for s in iter_eval_samples(fixtures_dir / "crohme", source="offline/2014")} == {
        "RIT_2014_225", "RIT_2014_97", "34_em_225", "502_em_12",
    }  # fmt: skip
    with pytest.raises(ValueError, match="no source"):
        list(iter_eval_samples(fixtures_dir / "crohme", source="offline/2099"))
