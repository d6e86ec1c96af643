"""Fails (exit 1) when a PNG screenshot is blank: fewer than 2% of its pixels differ from its
most common colour, or it has fewer than 4 colours. Standard library only (zlib); handles the
8-bit, non-interlaced RGB and RGBA images Chromium writes."""
import struct
import sys
import zlib
from collections import Counter


def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG file")
    offset, idat, header = 8, b"", None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        sys.exit(f"{path}: expected 8-bit RGB(A), non-interlaced")
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * size
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up = previous[i]
            up_left = previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 0xFF
        previous = line
        for i in range(0, stride, size):
            yield bytes(line[i : i + 3])


def main():
    path = sys.argv[1]
    counts = Counter(pixels(path))
    total = sum(counts.values())
    _, most = counts.most_common(1)[0]
    differing = 1 - most / total
    if len(counts) < 4 or differing < 0.02:
        sys.exit(f"{path} looks blank: {len(counts)} colours, {differing:.1%} of pixels differ")
    print(f"{path}: {len(counts)} colours, {differing:.1%} of pixels differ from the background")


main()
