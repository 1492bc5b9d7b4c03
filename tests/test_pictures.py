"""The README's picture, docs/serve.png, is the one scripts/pictures.py makes: its size, and
not blank. (Whether it shows today's screen is for the eye; the script makes it from the
current app: `.venv/bin/python scripts/pictures.py`.)"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

# scripts/pictures.py, loaded by path (test_serve.py does it).
from test_serve import ROOT, pictures

PICTURE = ROOT / "docs" / "serve.png"


def test_the_readme_picture_is_the_scripts_size_and_not_blank() -> None:
    assert pictures.PICTURE == PICTURE
    assert PICTURE.is_file(), "docs/serve.png is missing: run scripts/pictures.py"
    png = pictures.read_png(PICTURE)
    assert (png.width, png.height) == pictures.WINDOW
    # A screen of tables: several hundred colours (text anti-aliased on a few backgrounds)
    # and a file of some size; a page that never drew is one or two colours and a few KB.
    assert PICTURE.stat().st_size > 20_000
    assert png.colours >= pictures.MIN_COLOURS


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _png(rows: list[bytes], width: int, bpp: int, filters: list[int]) -> bytes:
    """A PNG of `rows` (RGB or RGBA pixels), each row filtered as `filters` says: the
    encoder's side of the PNG spec's filters, written here independently of the decoder."""
    raw = b""
    previous = bytes(len(rows[0]))
    for row, kind in zip(rows, filters, strict=True):
        out = bytearray()
        for x, value in enumerate(row):
            a = row[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
            out.append((value - predictor) % 256)
        raw += bytes([kind]) + bytes(out)
        previous = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2 if bpp == 3 else 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("bpp", [3, 4])
def test_the_png_reader_undoes_every_filter(tmp_path: Path, bpp: int) -> None:
    width = 7
    rows = [
        bytes(
            (x * 37 + y * 91 + k * 53 + x * y * 11) % 256 for x in range(width) for k in range(bpp)
        )
        for y in range(10)
    ]
    path = tmp_path / "t.png"
    path.write_bytes(_png(rows, width, bpp, [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]))
    png = pictures.read_png(path)
    assert (png.width, png.height, png.bpp) == (width, 10, bpp)
    assert png.rows == rows
    assert png.colours == len({row[x : x + bpp] for row in rows for x in range(0, len(row), bpp)})


def test_the_png_reader_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="is not a PNG file"):
        pictures.read_png(path)
    one = _png([b"\x00\x01\x02"], 1, 3, [0])
    # The same picture declared 16 bits deep.
    path.write_bytes(
        one.replace(struct.pack(">IIBB", 1, 1, 8, 2), struct.pack(">IIBB", 1, 1, 16, 2))
    )
    with pytest.raises(ValueError, match="not an 8-bit"):
        pictures.read_png(path)
