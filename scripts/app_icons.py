#!/usr/bin/env python3
"""Draw the app's icons (a command prompt ">_" on a rounded square) as PNG files.

    python3 scripts/app_icons.py app/static          # write the four icons
    python3 scripts/app_icons.py --check app/static  # exit 1 if a committed icon differs

Standard library only (zlib, struct), so the output is byte-for-byte the same on every machine
and tests/app_ui.rs can check the committed files against it without extra packages.

Splunk Web uses appIcon.png (36x36) and appIcon_2x.png (72x72) in the app list and launcher,
appIconAlt.png / appIconAlt_2x.png (same sizes) on dark backgrounds such as the app bar: the
"Alt" icons are the white glyph on a transparent background.
"""
import struct
import sys
import zlib
from pathlib import Path

BLUE = (0x1A, 0x5F, 0x9E)
WHITE = (0xFF, 0xFF, 0xFF)
SUPERSAMPLE = 4  # samples per pixel along each axis (anti-aliasing)
STROKE = 0.10    # glyph stroke width, in icon widths


def _seg_dist2(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)
    t = max(0.0, min(1.0, t))
    qx, qy = ax + t * dx - px, ay + t * dy - py
    return qx * qx + qy * qy


def in_glyph(x, y):
    """The ">_" prompt, in unit coordinates (0..1, y down)."""
    r2 = (STROKE / 2) ** 2
    chevron = ((0.22, 0.30), (0.46, 0.50), (0.22, 0.70))
    for (ax, ay), (bx, by) in zip(chevron, chevron[1:]):
        if _seg_dist2(x, y, ax, ay, bx, by) <= r2:
            return True
    return 0.54 <= x <= 0.80 and 0.62 <= y <= 0.62 + STROKE


def in_rounded_square(x, y, radius=0.18, margin=0.02):
    lo, hi = margin + radius, 1 - margin - radius
    cx, cy = min(max(x, lo), hi), min(max(y, lo), hi)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius


def render(size, alt):
    """RGBA rows of one icon."""
    rows = []
    n = SUPERSAMPLE
    for py in range(size):
        row = bytearray()
        for px in range(size):
            glyph = bg = 0
            for sy in range(n):
                for sx in range(n):
                    x = (px + (sx + 0.5) / n) / size
                    y = (py + (sy + 0.5) / n) / size
                    if in_glyph(x, y):
                        glyph += 1
                    elif not alt and in_rounded_square(x, y):
                        bg += 1
            total = n * n
            if alt:
                row += bytes(WHITE) + bytes([round(255 * glyph / total)])
            else:
                cover = glyph + bg
                if cover == 0:
                    row += bytes(4)
                    continue
                # Colour of the covered part: white glyph over the blue square.
                rgb = [round((g * glyph + b * bg) / cover) for g, b in zip(WHITE, BLUE)]
                row += bytes(rgb) + bytes([round(255 * cover / total)])
        rows.append(bytes(row))
    return rows


def png(size, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every row
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


ICONS = {
    "appIcon.png": (36, False),
    "appIcon_2x.png": (72, False),
    "appIconAlt.png": (36, True),
    "appIconAlt_2x.png": (72, True),
}


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    differ = []
    for name, (size, alt) in ICONS.items():
        data = png(size, render(size, alt))
        path = out / name
        if check:
            if not path.exists() or path.read_bytes() != data:
                differ.append(name)
        else:
            path.write_bytes(data)
    if differ:
        print("icons differ from scripts/app_icons.py output: " + ", ".join(differ), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
