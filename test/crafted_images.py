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
