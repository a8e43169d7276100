"""Image size from the first bytes of a PNG, JPEG, BMP or WebP file, without decoding pixels.

A 1 MB PNG can declare 20000x20000 pixels (1.2 GB once decoded): the size limit
(``input.max_image_pixels``) must be applied to the header before ``cv2.imread`` /
``cv2.imdecode`` allocate anything. Formats not parsed here (TIFF, ...) get ``None``
and are checked after decoding (OpenCV caps any decode at 2^30 pixels itself). A PNG or
JPEG whose size is not where it must be is refused (:class:`HeaderUnreadable`): decoding it
anyway would let a 5 KB JPEG that hides its frame header past the scanned markers allocate
gigabytes.
"""

from __future__ import annotations

import os

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
# Start-of-frame markers (baseline, progressive, lossless, arithmetic); not DHT/JPG/DAC.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field
_JPEG_MAX_MARKERS = 1024  # bounds the header scan on hostile data (e.g. a run of 0xFF fill bytes)
HEADER_BYTES = 1 << 18  # where a file's frame header must start to be found (JPEG APP segments come first)


class HeaderUnreadable(ValueError):
    """A PNG or JPEG whose declared size cannot be found cheaply: refused, not decoded."""


def png_size(buf: bytes | memoryview) -> tuple[int, int] | None:
    """(height, width) from the IHDR chunk that must follow the PNG signature."""
    if len(buf) < 24 or buf[12:16] != b"IHDR":
        return None
    width = int.from_bytes(buf[16:20], "big")
    height = int.from_bytes(buf[20:24], "big")
    return height, width


def jpeg_size(buf: bytes | memoryview) -> tuple[int, int] | None:
    """(height, width) from the first start-of-frame segment, or None if not found cheaply."""
    pos = 2  # after SOI
    for _ in range(_JPEG_MAX_MARKERS):
        if pos + 9 > len(buf) or buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in _JPEG_STANDALONE:
            pos += 2
        elif marker in _JPEG_SOF:
            height = int.from_bytes(buf[pos + 5 : pos + 7], "big")
            width = int.from_bytes(buf[pos + 7 : pos + 9], "big")
            return (height, width) if height > 0 else None  # 0: height comes later (DNL)
        elif marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        else:
            pos += 2 + int.from_bytes(buf[pos + 2 : pos + 4], "big")
    return None


def _bmp_size(buf: bytes) -> tuple[int, int] | None:
    """(height, width) from the DIB header (OS/2 16-bit or Windows 32-bit; height < 0 is top-down)."""
    if len(buf) < 26:
        return None
    if int.from_bytes(buf[14:18], "little") == 12:
        return int.from_bytes(buf[20:22], "little"), int.from_bytes(buf[18:20], "little")
    width = int.from_bytes(buf[18:22], "little", signed=True)
    height = int.from_bytes(buf[22:26], "little", signed=True)
    return abs(height), abs(width)


def _webp_size(buf: bytes) -> tuple[int, int] | None:
    """(height, width) from the first chunk: lossy ``VP8 ``, lossless ``VP8L`` or extended ``VP8X``."""
    chunk = buf[12:16]
    if chunk == b"VP8 " and len(buf) >= 30:
        return int.from_bytes(buf[28:30], "little") & 0x3FFF, int.from_bytes(buf[26:28], "little") & 0x3FFF
    if chunk == b"VP8L" and len(buf) >= 25:
        bits = int.from_bytes(buf[21:25], "little")
        return 1 + ((bits >> 14) & 0x3FFF), 1 + (bits & 0x3FFF)
    if chunk == b"VP8X" and len(buf) >= 30:
        return 1 + int.from_bytes(buf[27:30], "little"), 1 + int.from_bytes(buf[24:27], "little")
    return None


def header_size(head: bytes | memoryview) -> tuple[int, int] | None:
    """(height, width) declared by the first bytes of an image file; None for formats not
    parsed here; :class:`HeaderUnreadable` for a PNG or JPEG without a size where it must be."""
    if head[:8] == PNG_SIGNATURE:
        return _required(png_size(head), "PNG without an IHDR chunk after its signature")
    if head[:3] == JPEG_SOI:
        problem = f"JPEG frame header not found in its first {_JPEG_MAX_MARKERS} markers / {len(head)} bytes"
        return _required(jpeg_size(head), problem)
    data = bytes(head[:30])
    if data[:2] == b"BM":
        return _bmp_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


def _required(size: tuple[int, int] | None, problem: str) -> tuple[int, int]:
    if size is None:
        raise HeaderUnreadable(problem)
    return size


def file_image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(height, width) an image file declares, read from at most :data:`HEADER_BYTES` bytes."""
    with open(path, "rb") as file:
        return header_size(file.read(HEADER_BYTES))


def too_many_pixels(height: int, width: int, max_pixels: int) -> str | None:
    """Why an image of this size is refused (``input.max_image_pixels``), or None."""
    if height * width <= max_pixels:
        return None
    return f"{width}x{height} = {width * height} pixels, more than input.max_image_pixels={max_pixels}"
