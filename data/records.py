"""CROHME sources on disk (folders or zips) -> one `Record` type.

InkML sources give strokes + symbols; offline sources (`caption.txt` + images, BTTR/CoMER
`data.zip` style) give lazily loaded images. Unreadable files are skipped with a warning
naming them and listed in `ReadResult.skipped`; they never stop a run.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np
from PIL import Image

from data.inkml import InkmlError, Symbol, read_inkml

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".bmp", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".webp", ".pgm"})
CAPTION_FILE = "caption.txt"
IMAGE_DIRS = ("img", "images", "image", "imgs")
_SPLIT_NAME = re.compile(r"^(train\w*|test\w*|val\w*|valid\w*|validation|dev\w*|\d{4}\w*)$", re.IGNORECASE)
# Offline distributions name images `<name>_0.bmp`.
_IMAGE_SUFFIX = "_0"

SourceKind = Literal["inkml", "offline"]


class _FileImage:
    """Picklable lazy loader of an image file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> Image.Image:
        with Image.open(self.path) as im:
            im.load()
            return im


_ZIP_CACHE: dict[tuple[str, int], zipfile.ZipFile] = {}


def _open_zip(path: Path) -> zipfile.ZipFile:
    """One open ZipFile per (path, process): workers must not share file offsets."""
    key = (str(path), os.getpid())
    zf = _ZIP_CACHE.get(key)
    if zf is None:
        zf = zipfile.ZipFile(path)
        _ZIP_CACHE[key] = zf
    return zf


class _ZipImage:
    """Picklable lazy loader of an image member of a zip."""

    def __init__(self, zip_path: Path, member: str) -> None:
        self.zip_path = zip_path
        self.member = member

    def __call__(self) -> Image.Image:
        data = _open_zip(self.zip_path).read(self.member)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im


class Record:
    """One expression: normalized LaTeX plus either strokes (InkML) or an image (offline).

    `image` is loaded lazily (on each access) when the record was built with a loader.
    `trace_ids[i]` is the InkML id of `strokes[i]` (what `symbols[k].trace_ids` refer to).
    """

    __slots__ = ("name", "latex", "strokes", "symbols", "source", "trace_ids", "_image", "_loader")

    def __init__(
        self,
        name: str,
        latex: str,
        image: Image.Image | None = None,
        strokes: list[np.ndarray] | None = None,
        symbols: list[Symbol] | None = None,
        source: str = "",
        image_loader: _FileImage | _ZipImage | None = None,
        trace_ids: list[str] | None = None,
    ) -> None:
        self.name = name
        self.trace_ids = (
            trace_ids if trace_ids is not None or strokes is None else [str(i) for i in range(len(strokes))]
        )
        self.latex = latex
        self.strokes = strokes
        self.symbols = symbols
        self.source = source
        self._image = image
        self._loader = image_loader

    @property
    def image(self) -> Image.Image | None:
        if self._image is not None:
            return self._image
        return self._loader() if self._loader is not None else None

    @property
    def kind(self) -> SourceKind:
        return "inkml" if self.strokes is not None else "offline"

    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the image without decoding its pixels; None for InkML records."""
        if self._image is not None:
            return self._image.size
        if isinstance(self._loader, _FileImage):
            with Image.open(self._loader.path) as im:
                return im.size
        if isinstance(self._loader, _ZipImage):
            with Image.open(io.BytesIO(_open_zip(self._loader.zip_path).read(self._loader.member))) as im:
                return im.size
        return None

    def strokes_by_id(self) -> dict[str, np.ndarray]:
        return dict(zip(self.trace_ids or [], self.strokes or [], strict=False))

    def __getstate__(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    def __repr__(self) -> str:
        return f"Record(name={self.name!r}, kind={self.kind!r}, source={self.source!r}, latex={self.latex!r})"


@dataclass
class Source:
    """A readable unit: an InkML folder (recursive) or an offline split, on disk or inside a zip."""

    name: str  # relative to the path given to `discover_sources` ('.' for that path itself)
    kind: SourceKind
    path: Path  # folder, or the zip file when `member` is not None
    member: str | None = None  # folder inside the zip ('' = zip root)


@dataclass
class ReadResult:
    """Records of one source plus the files that were skipped and why."""

    source: Source
    records: list[Record] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def _skip(skipped: list[dict[str, str]], file: str, reason: str) -> None:
    skipped.append({"file": file, "reason": reason})
    warnings.warn(f"skipped {file}: {reason}", stacklevel=3)


def normalize_latex(latex: str, name: str = "") -> str:
    """Tokenizer normalisation (strict, then lenient); what neither accepts is kept whitespace-collapsed."""
    from tokenizer import normalize

    try:
        return normalize(latex)
    except ValueError as exc:
        try:
            fixed = normalize(latex, strict=False)
        except (ValueError, TypeError):
            log.warning("%s: LaTeX kept as is, normalisation failed (%s)", name, exc)
            return " ".join(latex.split())
        log.info("%s: LaTeX normalised leniently (%s)", name, exc)
        return fixed


# ---------------------------------------------------------------------------------------- InkML


def _inkml_record(raw: bytes | Path, name: str, source: str) -> Record:
    ink = read_inkml(raw, name=name)
    return Record(
        name=ink.name,
        latex=normalize_latex(ink.truth, ink.name) if ink.truth else "",
        strokes=ink.strokes,
        symbols=ink.symbols,
        source=source,
        trace_ids=ink.trace_ids,
    )


def _zip_members(zf: zipfile.ZipFile, prefix: str) -> list[str]:
    prefix = prefix.strip("/")
    names = [n for n in zf.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
    if not prefix:
        return names
    return [n for n in names if n.startswith(prefix + "/")]


def read_inkml_source(source: Source) -> ReadResult:
    """Read every `*.inkml` of an InkML source, sorted by path."""
    result = ReadResult(source=source)
    result.records.extend(record for _, record in _iter_inkml(source, result.skipped))
    return result


def _iter_inkml(source: Source, skipped: list[dict[str, str]]) -> Iterator[tuple[str, Record]]:
    if source.member is not None:
        zf = _open_zip(source.path)
        members = sorted(m for m in _zip_members(zf, source.member) if m.lower().endswith(".inkml"))
        for member in members:
            stem = PurePosixPath(member).stem
            try:
                yield member, _inkml_record(zf.read(member), stem, source.name)
            except InkmlError as exc:
                _skip(skipped, member, str(exc).split(": ", 1)[-1])
        return
    root = source.path
    files = [root] if root.is_file() else sorted(root.rglob("*.inkml"), key=lambda p: p.as_posix())
    for path in files:
        rel = path.name if path == root else path.relative_to(root).as_posix()
        try:
            yield rel, _inkml_record(path, path.stem, source.name)
        except InkmlError as exc:
            _skip(skipped, rel, str(exc).split(": ", 1)[-1])


def iter_inkml_records(path: str | Path, skipped: list[dict[str, str]] | None = None) -> Iterator[Record]:
    """Records of an InkML file, folder (recursive) or zip; skipped files go to `skipped`."""
    path = Path(path)
    sink = skipped if skipped is not None else []
    if path.is_file() and zipfile.is_zipfile(path):
        source = Source(name=".", kind="inkml", path=path, member="")
    else:
        source = Source(name=".", kind="inkml", path=path)
    for _, record in _iter_inkml(source, sink):
        yield record


# -------------------------------------------------------------------------------------- offline


def _parse_captions(text: str, skipped: list[dict[str, str]], where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1) if "\t" not in line else line.strip().split("\t", 1)
        if len(parts) != 2 or not parts[1].strip():
            _skip(skipped, f"{where}:{i}", "caption line without LaTeX")
            continue
        name, latex = parts[0].strip(), parts[1].strip()
        if name in seen:
            _skip(skipped, f"{where}:{i}", f"duplicate caption for {name}")
            continue
        seen.add(name)
        out.append((name, latex))
    return out


def _image_index(stems_to_ref: dict[str, object]) -> dict[str, object]:
    """Add `<name>` aliases for `<name>_0` images (without overriding real `<name>` files)."""
    index = dict(stems_to_ref)
    for stem, ref in stems_to_ref.items():
        if stem.endswith(_IMAGE_SUFFIX):
            index.setdefault(stem[: -len(_IMAGE_SUFFIX)], ref)
    return index


def read_offline_source(source: Source) -> ReadResult:
    """Read `caption.txt` and index the images (`img/`, `images/` or beside the captions)."""
    result = ReadResult(source=source)
    skipped = result.skipped
    if source.member is not None:
        zf = _open_zip(source.path)
        prefix = source.member.strip("/")
        cap_member = f"{prefix}/{CAPTION_FILE}" if prefix else CAPTION_FILE
        captions = _parse_captions(decode_text(zf.read(cap_member)), skipped, cap_member)
        refs: dict[str, object] = {}
        for m in _zip_members(zf, prefix):
            rel = PurePosixPath(m).relative_to(prefix) if prefix else PurePosixPath(m)
            if rel.suffix.lower() in IMAGE_EXTENSIONS and (
                len(rel.parts) == 1 or (len(rel.parts) == 2 and rel.parts[0] in IMAGE_DIRS)
            ):
                refs.setdefault(rel.stem, _ZipImage(source.path, m))
        index = _image_index(refs)
    else:
        folder = source.path
        captions = _parse_captions(decode_text((folder / CAPTION_FILE).read_bytes()), skipped, CAPTION_FILE)
        refs = {}
        for sub in (folder, *(folder / d for d in IMAGE_DIRS)):
            if not sub.is_dir():
                continue
            with os.scandir(sub) as it:
                for entry in it:
                    stem, ext = os.path.splitext(entry.name)
                    if ext.lower() in IMAGE_EXTENSIONS and entry.is_file():
                        refs.setdefault(stem, _FileImage(Path(entry.path)))
        index = _image_index(refs)
    for name, latex in captions:
        ref = index.get(name)
        if ref is None:
            _skip(skipped, name, "caption without image")
            continue
        assert isinstance(ref, _FileImage | _ZipImage)
        result.records.append(
            Record(name=name, latex=normalize_latex(latex, name), source=source.name, image_loader=ref)
        )
    return result


def decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def iter_offline_records(path: str | Path, skipped: list[dict[str, str]] | None = None) -> Iterator[Record]:
    """Records of an offline split: a folder or zip with `caption.txt` and images."""
    path = Path(path)
    sources = [s for s in discover_sources(path) if s.kind == "offline"]
    if not sources:
        raise FileNotFoundError(f"no {CAPTION_FILE} found under {path}")
    for source in sources:
        result = read_offline_source(source)
        if skipped is not None:
            skipped.extend(result.skipped)
        yield from result.records


# ------------------------------------------------------------------------------------ discovery


class _Tree:
    """A directory view over a real folder or over the member names of a zip."""

    def __init__(self, dirs: dict[str, set[str]], files: dict[str, set[str]]) -> None:
        self.dirs = dirs  # dir -> child dir names
        self.files = files  # dir -> file names

    @classmethod
    def from_zip(cls, zf: zipfile.ZipFile) -> _Tree:
        dirs: dict[str, set[str]] = {"": set()}
        files: dict[str, set[str]] = {"": set()}
        for member in _zip_members(zf, ""):
            parts = PurePosixPath(member).parts
            for depth in range(len(parts) - 1):
                parent = "/".join(parts[:depth])
                child = "/".join(parts[: depth + 1])
                dirs.setdefault(parent, set()).add(parts[depth])
                dirs.setdefault(child, set())
                files.setdefault(child, set())
            files.setdefault("/".join(parts[:-1]), set()).add(parts[-1])
        return cls(dirs, files)

    @classmethod
    def from_folder(cls, root: Path) -> _Tree:
        dirs: dict[str, set[str]] = {}
        files: dict[str, set[str]] = {}
        for cur, dnames, fnames in os.walk(root):
            rel = Path(cur).relative_to(root).as_posix()
            rel = "" if rel == "." else rel
            dnames[:] = sorted(d for d in dnames if not d.startswith(".") and d != "__MACOSX")
            dirs[rel] = set(dnames)
            files[rel] = set(fnames)
        return cls(dirs, files)

    def has_direct_inkml(self, d: str) -> bool:
        return any(f.lower().endswith(".inkml") for f in self.files.get(d, ()))

    def has_any_inkml(self, d: str) -> bool:
        prefix = d + "/" if d else ""
        return any((k == d or k.startswith(prefix)) and self.has_direct_inkml(k) for k in self.files)

    def join(self, d: str, child: str) -> str:
        return f"{d}/{child}" if d else child


def _walk_sources(tree: _Tree, d: str, out: list[tuple[str, SourceKind]]) -> None:
    if CAPTION_FILE in tree.files.get(d, ()):
        out.append((d, "offline"))
        return
    if tree.has_direct_inkml(d):
        out.append((d, "inkml"))
        return
    children = sorted(tree.dirs.get(d, ()))
    ink_children = [c for c in children if tree.has_any_inkml(tree.join(d, c))]
    # A folder whose InkML sub-folders are flat and not named like splits is one source
    # (inkml/train/<writer source>/*.inkml); otherwise recurse into the children.
    if (
        ink_children
        and all(
            tree.has_direct_inkml(tree.join(d, c))
            and not any(tree.has_any_inkml(tree.join(tree.join(d, c), g)) for g in tree.dirs[tree.join(d, c)])
            for c in ink_children
        )
        and not any(_SPLIT_NAME.match(c) for c in ink_children)
        and not any(CAPTION_FILE in tree.files.get(tree.join(d, c), ()) for c in children)
    ):
        out.append((d, "inkml"))
        return
    for c in children:
        _walk_sources(tree, tree.join(d, c), out)


def discover_sources(path: str | Path) -> list[Source]:
    """Find the InkML and offline sources under a CROHME root, a source folder, a file or a zip."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_file():
        if zipfile.is_zipfile(path):
            tree = _Tree.from_zip(_open_zip(path))
            found: list[tuple[str, SourceKind]] = []
            _walk_sources(tree, "", found)
            return [Source(name=d or ".", kind=k, path=path, member=d) for d, k in found]
        if path.suffix.lower() == ".inkml":
            return [Source(name=".", kind="inkml", path=path)]
        if path.name == CAPTION_FILE:
            return [Source(name=".", kind="offline", path=path.parent)]
        raise ValueError(f"{path}: not a zip, an .inkml file or a {CAPTION_FILE}")
    tree = _Tree.from_folder(path)
    found = []
    _walk_sources(tree, "", found)
    return [Source(name=d or ".", kind=k, path=path / d if d else path) for d, k in found]


def read_source(source: Source) -> ReadResult:
    """Read one discovered source."""
    if source.kind == "inkml":
        return read_inkml_source(source)
    return read_offline_source(source)


def read_all(path: str | Path) -> list[ReadResult]:
    """Discover and read every source under `path`."""
    return [read_source(s) for s in discover_sources(path)]
