"""Decode a PNG as Chromium writes it (8-bit RGB or RGBA, no interlace) with the standard library, for the tests that
look at a screenshot's pixels."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _unfilter(kind, line, previous, size):
    for i, value in enumerate(line):
        left = line[i - size] if i >= size else 0
        up, corner = previous[i], previous[i - size] if i >= size else 0
        if kind == 1:
            line[i] = (value + left) & 0xFF
        elif kind == 2:
            line[i] = (value + up) & 0xFF
        elif kind == 3:
            line[i] = (value + (left + up) // 2) & 0xFF
        elif kind == 4:
            guess = left + up - corner
            near_left, near_up, near_corner = abs(guess - left), abs(guess - up), abs(guess - corner)
            best = left if near_left <= near_up and near_left <= near_corner else up if near_up <= near_corner else corner
            line[i] = (value + best) & 0xFF
    return line


def decode(content: bytes, last: int | None = None) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows (0..last, or all) of a PNG."""
    assert content[:8] == SIGNATURE, "not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(content):
        length, kind = struct.unpack(">I4s", content[pos:pos + 8])
        body = content[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour in (2, 6), f"unexpected PNG format depth={depth} colour={colour}"
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * size
    rows, previous = [], bytearray(stride)
    for y in range(height if last is None else min(height, last + 1)):
        line = _unfilter(raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]), previous, size)
        rows.append(bytes(line))
        previous = line
    return width, height, rows
