"""Pictures that shoppers upload: read in memory, checked before decoding, never stored.

An upload is refused with a Russian message (400) when it is empty, not a raster
picture of an accepted format (SVG and other XML are never parsed), truncated, or a
decompression bomb (its pixel count is checked from the header, before any pixel
is decoded). Bodies above ``MAX_UPLOAD_BYTES`` get 413 from Werkzeug. Animated
pictures use their first frame. Uploads never touch the disk
(:class:`webapp.security.InMemoryRequest`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from ..encoders.base import l2_normalise
from ..encoders.transforms import to_rgb
from ..search.signals.picture import PictureQuery
from .params import ParamError

#: Raster formats a shopper's photo, scan or screenshot comes in (what Pillow names them).
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"})
THUMBNAIL_SIDE = 160


@dataclass(frozen=True)
class Upload:
    """A validated, decoded picture and the digest of its bytes (the cache key)."""

    image: Image.Image
    digest: str
    thumbnail: str  # a small JPEG as a data: URL, to show the shopper what they sent


def read_upload(file: FileStorage | None, *, max_pixels: int) -> Upload:
    """Validate and decode the uploaded ``file``; raise ParamError("image", …) when bad."""
    data = file.read() if file is not None else b""
    if not data:
        raise ParamError("image", "Выберите картинку: файл не получен или пуст.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                _check_header(opened.format, opened.size, max_pixels)
                opened.seek(0)  # animated pictures: the first frame
                opened.load()
                image = opened.copy()
    except ParamError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(max_pixels) from None
    except UnidentifiedImageError:
        raise _not_a_picture() from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ParamError(
            "image", "Картинка повреждена или обрезана: не удалось прочитать её целиком."
        ) from None
    return Upload(image, hashlib.sha256(data).hexdigest(), thumbnail(image))


def _check_header(kind: str | None, size: tuple[int, int], max_pixels: int) -> None:
    """Refuse unknown formats and pictures too large to decode, from the header alone."""
    if kind not in ACCEPTED_FORMATS:
        raise _not_a_picture()
    if size[0] * size[1] > max_pixels:
        raise _too_large(max_pixels)


def _too_large(max_pixels: int) -> ParamError:
    """The error for a picture with more pixels than we decode (a decompression bomb)."""
    return ParamError(
        "image", f"Картинка слишком большая по числу точек: не больше {max_pixels / 1e6:g} млн."
    )


def _not_a_picture() -> ParamError:
    """The error for a file that is not a picture of an accepted format."""
    return ParamError("image", "Это не картинка. Подойдут JPEG, PNG, WebP, GIF, BMP или TIFF.")


def thumbnail(image: Image.Image) -> str:
    """A small JPEG of ``image`` on white, as a data: URL (CSP allows data: images)."""
    small = to_rgb(image.copy())
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def picture_token(query: PictureQuery) -> str:
    """A compact URL-safe token of a picture query: its vector (int8 per component) and
    its top classes (index, probability), ≈1.3 characters per vector component.

    Paging and filtering a picture search are plain GET links carrying this token,
    so nothing about the upload is kept on the server.
    """
    peak = float(np.abs(query.vector).max()) or 1.0
    quantised = np.round(np.asarray(query.vector, np.float32) * (127.0 / peak)).astype(np.int8)
    classes = np.array([(i, round(p * 60000)) for i, p in query.classes], ">u2").reshape(-1)
    photo = np.array([round(query.photo * 255)], np.uint8)
    raw = quantised.tobytes() + photo.tobytes() + classes.tobytes()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def token_picture(token: str, dim: int, max_classes: int) -> PictureQuery:
    """The :class:`PictureQuery` of a :func:`picture_token` for a ``dim``-d space carrying
    at most ``max_classes`` classes; ParamError when the token is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    extra = len(raw) - dim - 1
    if extra < 0 or extra % 4 or extra > 4 * max_classes:
        raise _bad_token()
    vector = np.frombuffer(raw[:dim], np.int8).astype(np.float32)
    if not vector.any():
        raise _bad_token()
    pairs = np.frombuffer(raw[dim + 1 :], ">u2").reshape(-1, 2)
    if (pairs[:, 0] >= 1000).any():
        raise _bad_token()
    classes = tuple((int(i), float(p) / 60000) for i, p in pairs)
    return PictureQuery(l2_normalise(vector), classes, raw[dim] / 255)


def _bad_token() -> ParamError:
    """The error for a picture-search link that was cut or altered."""
    return ParamError("pv", "Ссылка на поиск по картинке повреждена: загрузите картинку заново.")
