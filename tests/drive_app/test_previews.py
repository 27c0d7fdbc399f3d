"""Previews of images and PDFs stored in a real S3, decoded by Pillow and PDFium."""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib

import pytest
from PIL import Image

from drive_app.previews import (
    MAX_PIXELS,
    PREVIEW_CONTENT_TYPE,
    SPOOL_MEMORY_BYTES,
    make_preview,
    supports,
)
from suite.storage import BlobNotFound, get_blob_store

RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)


@pytest.fixture
def put_blob(s3_settings):
    """``put_blob(data)`` -> the key of a new S3 object holding ``data``; deleted after."""
    store = get_blob_store()
    keys = []

    def put(data: bytes) -> str:
        key = store.new_key("drive")
        store.put(key, data)
        keys.append(key)
        return key

    yield put
    store.delete_many(keys)


@pytest.fixture
def preview_of(put_blob):
    """``preview_of(data, mimetype)``: store ``data`` and return its preview (or None)."""

    def preview(data: bytes, mimetype: str) -> bytes | None:
        return make_preview(put_blob(data), mimetype, len(data))

    return preview


def two_colour_image(size: tuple[int, int], first=RED, second=BLUE, mode="RGB") -> Image.Image:
    """Left half ``first``, right half ``second``."""
    image = Image.new(mode, size, second)
    image.paste(first, (0, 0, size[0] // 2, size[1]))
    return image


def encode(image: Image.Image, pillow_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=pillow_format, **options)
    return out.getvalue()


def open_preview(data: bytes | None) -> Image.Image:
    assert data is not None, "no preview"
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    image.load()
    return image


def near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` with almost no pixel data: what a
    decompression bomb looks like before it is decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + png_chunk(b"IEND", b"")
    )


def pdf_document(pages: list[bytes], size=(612, 792), padding: bytes = b"") -> bytes:
    """A minimal valid PDF: one page of ``size`` points per content stream in ``pages``;
    ``padding`` goes into an unreferenced stream object (to make a large file)."""
    count = len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
    ]
    for i, content in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R >>"
            % (size[0], size[1], 4 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    if padding:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(padding), padding))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def fill(colour: tuple[int, int, int], box: tuple[int, int, int, int]) -> bytes:
    """PDF content: a rectangle ``(x, y, w, h)`` (origin bottom left) filled with ``colour``."""
    r, g, b = (c / 255 for c in colour)
    return b"%.3f %.3f %.3f rg %d %d %d %d re f" % (r, g, b, *box)


# --- images --------------------------------------------------------------------------------------


def test_png_preview_fits_the_box_and_keeps_the_picture(preview_of):
    data = encode(two_colour_image((1200, 600)), "PNG")

    preview = open_preview(preview_of(data, "image/png"))

    assert preview.size == (512, 256)
    assert near(preview.getpixel((10, 128)), RED)
    assert near(preview.getpixel((500, 128)), BLUE)


def test_preview_size_follows_the_setting(preview_of, settings):
    settings.DRIVE_PREVIEW_SIZE = 64
    data = encode(two_colour_image((300, 600)), "PNG")

    assert open_preview(preview_of(data, "image/png")).size == (32, 64)


def test_small_image_is_not_enlarged(preview_of):
    data = encode(two_colour_image((40, 20)), "PNG")

    assert open_preview(preview_of(data, "image/png")).size == (40, 20)


def test_png_transparency_is_kept(preview_of):
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 50, 100))

    preview = open_preview(preview_of(encode(image, "PNG"), "image/png"))

    assert preview.mode == "RGBA"
    assert preview.getpixel((90, 50))[3] == 0
    assert near(preview.getpixel((10, 50)), RED) and preview.getpixel((10, 50))[3] == 255


def test_jpeg_exif_orientation_is_applied(preview_of):
    """Orientation 6: the camera was turned; the stored 600x200 picture is shown rotated 90°
    clockwise, 200x600, its left (red) side on top."""
    image = two_colour_image((600, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    data = encode(image, "JPEG", exif=exif, quality=95)

    preview = open_preview(preview_of(data, "image/jpeg"))

    assert preview.size == (171, 512)
    assert near(preview.getpixel((85, 20)), RED)
    assert near(preview.getpixel((85, 490)), BLUE)


def test_large_jpeg_preview_fits_the_box(preview_of):
    data = encode(two_colour_image((4000, 3000)), "JPEG", quality=90)

    preview = open_preview(preview_of(data, "image/jpeg"))

    assert preview.size == (512, 384)
    assert near(preview.getpixel((10, 10)), RED) and near(preview.getpixel((500, 10)), BLUE)


@pytest.mark.parametrize(
    ("pillow_format", "mimetype", "mode"),
    [
        ("GIF", "image/gif", "P"),
        ("WEBP", "image/webp", "RGB"),
        ("BMP", "image/bmp", "RGB"),
        ("BMP", "image/x-ms-bmp", "RGB"),
        ("TIFF", "image/tiff", "RGB"),
        ("TIFF", "image/tiff", "CMYK"),
        ("PNG", "image/png", "L"),
        ("PNG", "image/png", "I;16"),
        ("PNG", "image/png", "P"),
    ],
)
def test_every_supported_image_format_has_a_preview(preview_of, pillow_format, mimetype, mode):
    if mode == "I;16":  # 16-bit grey, as scanners and microscopes write
        image = Image.new("I;16", (800, 400), 65535)
    else:
        image = two_colour_image((800, 400)).convert(mode)
    data = encode(image, pillow_format)

    preview = open_preview(preview_of(data, mimetype))

    assert preview.size == (512, 256)


def test_animated_gif_preview_is_its_first_frame(preview_of):
    frames = [Image.new("RGB", (100, 100), colour).convert("P") for colour in (RED, BLUE)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)

    preview = open_preview(preview_of(out.getvalue(), "image/gif"))

    assert near(preview.getpixel((50, 50)), RED)


def test_mimetype_parameters_are_ignored(preview_of):
    data = encode(two_colour_image((100, 100)), "PNG")

    assert open_preview(preview_of(data, "Image/PNG; charset=binary")).size == (100, 100)


# --- PDF -----------------------------------------------------------------------------------------


def test_pdf_preview_is_its_first_page(preview_of):
    """Page 1: top half red on white; page 2: all blue (must not be shown)."""
    data = pdf_document([fill(RED, (0, 396, 612, 396)), fill(BLUE, (0, 0, 612, 792))])

    preview = open_preview(preview_of(data, "application/pdf"))

    assert preview.size[1] == 512 and preview.size[0] in (395, 396)
    assert near(preview.getpixel((200, 100)), RED)
    assert near(preview.getpixel((200, 400)), WHITE)


def test_landscape_pdf_preview_fits_the_box(preview_of):
    data = pdf_document([fill(BLUE, (0, 0, 421, 595))], size=(842, 595))

    preview = open_preview(preview_of(data, "application/pdf"))

    assert preview.size[0] == 512 and preview.size[1] in (361, 362)
    assert near(preview.getpixel((50, 180)), BLUE) and near(preview.getpixel((450, 180)), WHITE)


def test_files_larger_than_the_memory_spool_have_a_preview(preview_of):
    """Past SPOOL_MEMORY_BYTES the file is buffered on disk; both decoders read it there."""
    png = encode(two_colour_image((1800, 1800)), "PNG", compress_level=0)
    pdf = pdf_document([fill(RED, (0, 0, 612, 792))], padding=os.urandom(SPOOL_MEMORY_BYTES))
    assert len(png) > SPOOL_MEMORY_BYTES and len(pdf) > SPOOL_MEMORY_BYTES

    assert open_preview(preview_of(png, "image/png")).size == (512, 512)
    assert near(open_preview(preview_of(pdf, "application/pdf")).getpixel((100, 100)), RED)


def test_pdf_made_by_pillow_has_a_preview(preview_of):
    data = encode(two_colour_image((600, 300)), "PDF", resolution=72)

    preview = open_preview(preview_of(data, "application/pdf"))

    assert preview.size == (512, 256)
    assert near(preview.getpixel((10, 128)), RED) and near(preview.getpixel((500, 128)), BLUE)


def test_pdf_previews_from_parallel_threads_are_all_right(put_blob):
    """PDFium is not thread-safe; the module serialises it, so parallel tasks still work."""
    data = pdf_document([fill(RED, (0, 0, 612, 792))])
    key = put_blob(data)
    results: list[bytes | None] = []

    def work():
        results.append(make_preview(key, "application/pdf", len(data)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8
    assert all(near(open_preview(result).getpixel((100, 100)), RED) for result in results)


# --- no preview ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mimetype"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 100, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 200, "image/jpeg"),
        (b"just some text, not an image\n", "image/png"),
        (b"%PDF-1.4\nthis is not really a pdf\n", "application/pdf"),
        (b"not a pdf at all", "application/pdf"),
    ],
    ids=["png-garbage", "jpeg-garbage", "text-as-png", "pdf-garbage", "text-as-pdf"],
)
def test_corrupt_file_has_no_preview(preview_of, data, mimetype):
    assert preview_of(data, mimetype) is None


def test_truncated_jpeg_has_no_preview(preview_of):
    data = encode(two_colour_image((800, 600)), "JPEG")

    assert preview_of(data[: len(data) // 2], "image/jpeg") is None


def test_image_of_another_format_than_declared_has_no_preview(preview_of):
    """Only the declared type's decoder is used: a GIF declared as PNG is not decoded."""
    data = encode(two_colour_image((100, 100)).convert("P"), "GIF")

    assert preview_of(data, "image/png") is None
    assert preview_of(data, "image/gif") is not None


def test_decodable_image_over_the_pixel_limit_has_no_preview(preview_of, caplog):
    """A real, complete 8000x8000 black-and-white PNG: 8 kB stored, 64 megapixels decoded.
    It is refused on its header, before decoding."""
    side = 8000
    assert side * side > MAX_PIXELS
    row = b"\0" + b"\0" * (side // 8)  # filter byte, then 1 bit per pixel
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(row * side, 9))
        + png_chunk(b"IEND", b"")
    )
    assert len(data) < 20_000

    with caplog.at_level("INFO", logger="drive_app.previews"):
        assert preview_of(data, "image/png") is None

    assert "over the limit" in caplog.text


@pytest.mark.parametrize(
    ("width", "height"),
    [(100_000, 100_000), (2**31 - 1, 2**31 - 1)],
    ids=["over-pillow-limit", "absurd"],
)
def test_decompression_bomb_header_has_no_preview(preview_of, width, height):
    assert preview_of(png_header_only(width, height), "image/png") is None


def test_non_image_type_has_no_preview(preview_of):
    assert not supports("text/plain")
    assert preview_of(b"Bonjour\n", "text/plain") is None
    assert preview_of(b"PK\x03\x04", "application/zip") is None


def test_svg_has_no_preview(preview_of):
    """SVG can carry script and external references: never rendered."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'

    assert preview_of(svg, "image/svg+xml") is None


def test_file_over_the_size_limit_has_no_preview(preview_of, settings):
    data = encode(Image.effect_noise((200, 200), 64).convert("RGB"), "PNG")
    settings.DRIVE_PREVIEW_MAX_BYTES = len(data) - 1

    assert preview_of(data, "image/png") is None


def test_stored_object_larger_than_its_recorded_size_is_not_read_past_the_limit(put_blob, settings):
    """The recorded size says small, the store holds more: the store is the truth."""
    data = encode(Image.effect_noise((200, 200), 64).convert("RGB"), "PNG")
    settings.DRIVE_PREVIEW_MAX_BYTES = len(data) - 1
    key = put_blob(data)

    assert make_preview(key, "image/png", 100) is None


def test_file_at_the_size_limit_has_a_preview(preview_of, settings):
    data = encode(two_colour_image((100, 100)), "PNG")
    settings.DRIVE_PREVIEW_MAX_BYTES = len(data)

    assert preview_of(data, "image/png") is not None


def test_empty_file_has_no_preview(put_blob):
    key = put_blob(b"")

    assert make_preview(key, "image/png", 0) is None
    assert make_preview(key, "image/png", 10) is None  # a stale size: the blob is empty


def test_missing_blob_raises_not_found(s3_settings):
    with pytest.raises(BlobNotFound):
        make_preview(get_blob_store().new_key("drive"), "image/png", 100)


def test_preview_content_type_is_webp():
    assert PREVIEW_CONTENT_TYPE == "image/webp"
