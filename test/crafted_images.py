"""Small image files that declare a huge size: what a careless or hostile user feeds the CLI."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_huge_png(path: Path, width: int = 40000, height: int = 40000) -> Path:
    """A PNG of a few hundred bytes declaring ``width`` x ``height`` (its first rows black RGB,
    deflated): decoding it would need width * height * 3 bytes."""
    rows = zlib.compressobj(9)
    body = b"".join(rows.compress(b"\0" * (1 + 3 * width)) for _ in range(min(height, 4))) + rows.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
    path.write_bytes(png + _png_chunk(b"IEND", b""))
    return path


SIZE_LIES = [0, 1, 7, 63, 65535, 40000, 2**31 - 1, 2**32 - 1]  # widths/heights a header may claim


def png_with_size(data: bytes, width: int, height: int, fix_crc: bool) -> bytes:
    """The PNG with its IHDR width/height replaced (the CRC kept valid or not)."""
    ihdr = bytearray(data[8 + 8 : 8 + 8 + 13])
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) if fix_crc else data[29:33]
    return data[:16] + bytes(ihdr) + crc + data[33:]


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its baseline start-of-frame height/width replaced."""
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def jpeg_hiding_its_size(data: bytes, width: int, height: int, markers: int = 1100) -> bytes:
    """The JPEG declaring ``width`` x ``height``, its frame header after ``markers`` empty
    comment segments: past where a cheap header scan stops, so only a decoder finds the size."""
    return data[:2] + b"\xff\xfe\x00\x02" * markers + jpeg_with_size(data, width, height)[2:]
