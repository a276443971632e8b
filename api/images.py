"""Uploaded bytes -> a decoded PIL image, with the service's guards: format allow-list (sniffed from the
bytes, not trusted from headers), decompression-bomb pixel limit, corrupt/empty detection."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from PIL import Image, UnidentifiedImageError

from api.errors import ApiError

try:  # HEIC/HEIF photos (iPhone) where the optional decoder is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    HEIF_AVAILABLE = False

# JPEGs are decoded at a reduced size when their long side exceeds this (preprocess shrinks them anyway).
DRAFT_MAX_SIDE = 1600
_WANTED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "DIB", "GIF", "TIFF", "HEIF", "AVIF")
Image.init()
ALLOWED_FORMATS: tuple[str, ...] = tuple(f for f in _WANTED_FORMATS if f in Image.OPEN)

# Leading bytes of the formats above: such a file that fails to decode is corrupt (422), not foreign (415).
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_ISO_BMFF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,", re.I
)


def looks_like_image(data: bytes) -> bool:
    """True if `data` starts like one of the accepted image formats."""
    if data.startswith(_SIGNATURES):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return data[4:8] == b"ftyp" and data[8:12] in _ISO_BMFF_BRANDS


def decode_base64_image(text: str) -> bytes:
    """A base64 string or a `data:` URI -> bytes; 422 if it is not valid base64."""
    payload = text.strip()
    m = _DATA_URI.match(payload)
    if m:
        if not m.group("b64"):
            raise ApiError(
                422,
                "invalid_base64",
                "data: URIs must be base64-encoded (';base64,')",
                nl="een data:-URI moet base64 zijn (';base64,')",
            )
        payload = payload[m.end() :]
    payload = re.sub(r"\s+", "", payload)
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(
            422, "invalid_base64", f"the image is not valid base64: {exc}", nl="de afbeelding is geen geldige base64"
        ) from exc


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Identify the image (header only) and enforce the pixel limit; the pixels are read by `load_image`."""
    if not data:
        raise ApiError(422, "empty_image", "the uploaded image is empty (0 bytes)", nl="de afbeelding is leeg (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # over Pillow's own bomb limit, which lies above ours: the same answer as below
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_many_pixels(int(found.group(1)) if found else None, max_pixels) from exc
    except UnidentifiedImageError as exc:
        if looks_like_image(data):
            raise ApiError(
                422,
                "corrupt_image",
                "the image file is corrupt or truncated",
                nl="het afbeeldingsbestand is beschadigd of onvolledig",
            ) from exc
        accepted = ", ".join(sorted({f for f in ALLOWED_FORMATS if f not in ("MPO", "DIB")}))
        raise ApiError(
            415,
            "unsupported_media_type",
            f"not an image in a supported format ({accepted})",
            nl=f"geen afbeelding in een ondersteund formaat ({accepted})",
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ApiError(
            422,
            "corrupt_image",
            f"the image header cannot be read: {exc}",
            nl="de kop van het afbeeldingsbestand is onleesbaar",
        ) from exc
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ApiError(422, "empty_image", "the image has no pixels", nl="de afbeelding heeft geen pixels")
    if width * height > max_pixels:
        raise _too_many_pixels(width * height, max_pixels)
    return im


def _too_many_pixels(pixels: int | None, max_pixels: int) -> ApiError:
    """The one 413 for an image over the pixel limit, whichever check found it."""
    has = f"{pixels} pixels" if pixels is not None else "more pixels than that"
    heeft = f"{pixels} pixels" if pixels is not None else "meer pixels dan dat"
    return ApiError(
        413,
        "image_too_large",
        f"the image has {has}; the limit is {max_pixels} pixels",
        nl=f"de afbeelding heeft {heeft}; de grens is {max_pixels} pixels",
    )


def load_image(im: Image.Image) -> Image.Image:
    """Decode the pixels (first frame; JPEGs at reduced size when huge); 422 when the data is corrupt."""
    try:
        if im.format in ("JPEG", "MPO") and max(im.size) > DRAFT_MAX_SIDE:
            # the decoder keeps at least the requested size on both sides: ask for the image's own shape
            # (a 4000 x 3000 photo asked for 1600 x 1600 would be decoded whole; for 1600 x 1200, at 1/2)
            f = DRAFT_MAX_SIDE / max(im.size)
            im.draft(None, (max(1, round(im.width * f)), max(1, round(im.height * f))))
        im.load()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ApiError(
            422,
            "corrupt_image",
            f"the image data cannot be decoded: {exc}",
            nl="de afbeelding kan niet gedecodeerd worden",
        ) from exc
    return im
