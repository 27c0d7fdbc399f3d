"""Thumbnails of drive files: images (Pillow) and the first page of PDFs (pypdfium2).

:func:`make_preview` turns a stored file into a small WebP picture fitting a square of
``DRIVE_PREVIEW_SIZE`` pixels, or None when there is nothing to show. Files come from
users, so every decoding failure (corrupt, truncated, encrypted, a decompression bomb, a
type that lies about itself) is "no preview", never an exception; only the blob store's own
errors propagate, so the task that called it can retry.

Safety rules, each for a reason:

* Pillow may only use the decoder of the declared type (``formats=``): a file declared as
  PNG is never handed to, say, the EPS plugin (which would run Ghostscript).
* The pixel count is checked on the header, before any pixel is decoded, against
  :data:`MAX_PIXELS`; Pillow's own ``DecompressionBombError`` is a second net.
* At most ``DRIVE_PREVIEW_MAX_BYTES`` are read from the store (a ranged read), into a
  spooled temporary file that moves to disk past :data:`SPOOL_MEMORY_BYTES`.
* PDFium is not thread-safe (pypdfium2's documentation): one lock serialises its use.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps

from suite.storage import BlobRangeNotSatisfiable, get_blob_store

logger = logging.getLogger(__name__)

PREVIEW_FORMAT = "WEBP"
PREVIEW_CONTENT_TYPE = "image/webp"
PREVIEW_QUALITY = 80

#: Largest image (width x height, as its header declares) we decode: about 50 megapixels,
#: more than phone and most camera photos, and at most ~200 MB of RGBA pixels.
MAX_PIXELS = 50_000_000
#: Files are buffered in memory up to this size, on disk above it.
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024

#: Declared MIME type -> the only Pillow decoder allowed for it.
IMAGE_FORMATS: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/x-bmp": "BMP",
    "image/x-ms-bmp": "BMP",
    "image/tiff": "TIFF",
}
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})

_pdfium_lock = threading.Lock()


def supports(mimetype: str) -> bool:
    """Whether files of this MIME type (parameters ignored) can have a preview."""
    kind = _base_type(mimetype)
    return kind in IMAGE_FORMATS or kind in PDF_TYPES


def make_preview(key: str, mimetype: str, size: int) -> bytes | None:
    """A :data:`PREVIEW_CONTENT_TYPE` thumbnail of the blob at ``key``, fitting
    ``DRIVE_PREVIEW_SIZE`` x ``DRIVE_PREVIEW_SIZE`` pixels (never enlarged), or None.

    ``mimetype`` is the type found in the file's bytes and ``size`` its stored size. None
    when the type has no preview, the file is empty or larger than
    ``DRIVE_PREVIEW_MAX_BYTES``, or it cannot be decoded safely. Raises only the blob
    store's errors (:class:`~suite.storage.BlobNotFound`, :class:`~suite.storage.BlobStoreError`).
    """
    kind = _base_type(mimetype)
    max_bytes = settings.DRIVE_PREVIEW_MAX_BYTES
    box = settings.DRIVE_PREVIEW_SIZE
    if not supports(kind) or size <= 0 or size > max_bytes:
        return None
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as buffer:
        if not _read_bounded(key, buffer, max_bytes):
            return None
        buffer.seek(0)
        try:
            if kind in PDF_TYPES:
                picture = _render_pdf(buffer, box)
            else:
                picture = _render_image(buffer, IMAGE_FORMATS[kind], box)
            if picture is None:
                return None
            return _encode(picture)
        except Exception as exc:  # noqa: BLE001 -- decoders raise anything on hostile input
            logger.info("no preview for %s (%s): %s: %s", key, kind, type(exc).__name__, exc)
            return None


def _base_type(mimetype: str) -> str:
    return mimetype.split(";", 1)[0].strip().lower()


def _read_bounded(key: str, buffer: IO[bytes], max_bytes: int) -> bool:
    """Copy at most ``max_bytes`` of the blob into ``buffer``; False if the blob is empty or
    larger (the recorded size may be stale: the store is the truth)."""
    try:
        reader = get_blob_store().open(key, range=(0, max_bytes))
    except BlobRangeNotSatisfiable:
        return False  # an empty blob
    copied = 0
    for chunk in reader.iter_chunks():
        copied += len(chunk)
        if copied > max_bytes:
            reader.close()
            return False
        buffer.write(chunk)
    return copied > 0


def _render_image(source: IO[bytes], pillow_format: str, box: int) -> Image.Image | None:
    with Image.open(source, formats=[pillow_format]) as image:
        width, height = image.size
        if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
            logger.info("no preview: %sx%s pixels is over the limit", width, height)
            return None
        # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: far less memory and time.
        image.draft("RGB", (box, box))
        image.load()
        upright = ImageOps.exif_transpose(image)
        picture = upright.convert(_target_mode(upright))
        picture.thumbnail((box, box), Image.Resampling.LANCZOS)
        return picture


def _target_mode(image: Image.Image) -> str:
    """RGBA when the image has transparency (WebP keeps it), else RGB."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return "RGBA"
    return "RGB"


def _render_pdf(source: IO[bytes], box: int) -> Image.Image | None:
    import pypdfium2 as pdfium

    with _pdfium_lock:
        document = pdfium.PdfDocument(source)
        try:
            if len(document) == 0:
                return None
            page = document[0]
            try:
                width, height = page.get_size()  # points, rotation applied
                if width <= 0 or height <= 0:
                    return None
                scale = box / max(width, height)
                bitmap = page.render(scale=scale, may_draw_forms=False)
                try:
                    picture = bitmap.to_pil().convert("RGB")
                finally:
                    bitmap.close()
            finally:
                page.close()
        finally:
            document.close()
    # Rounding may leave a pixel too many.
    picture.thumbnail((box, box), Image.Resampling.LANCZOS)
    return picture


def _encode(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format=PREVIEW_FORMAT, quality=PREVIEW_QUALITY, method=4)
    return out.getvalue()
