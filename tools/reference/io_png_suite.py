"""Golden fixtures for the PNG decoder (src/io/media/image-png.ts): what Pillow's convert("RGB") gives.

Writes small PNGs of every colour type and bit depth, plain and Adam7-interlaced, with rows using all
five filter types, plus tRNS/PLTE/gAMA/iCCP/split-IDAT variants, and records Pillow's decoded RGB bytes.
Pillow cannot write most of these (2/4/16-bit gray, interlace, chosen filters), so a minimal encoder
below writes them; Pillow only decodes.

Regenerate (from the repo root):
    tools/reference/.venv/bin/python tools/reference/io_png_suite.py
Writes test/fixtures/io/images/png-suite/*.png and index.json.
"""

import json
import os
import random
import struct
import zlib

import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test/fixtures/io/images/png-suite")
SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """Samples (ints) of one row to bytes: MSB-first bit packing below 8 bits, big-endian for 16."""
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, n = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def filter_row(ftype, row, prev, bpp):
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i] if prev is not None else 0
        c = prev[i - bpp] if prev is not None and i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
        out.append((x - pred) & 0xFF)
    return bytes([ftype]) + bytes(out)


def encode(w, h, ct, depth, interlace, pixels, plte=None, trns=None, extra=(), split_idat=False):
    """pixels[y][x] = tuple of samples. Filter types cycle 0..4 over the rows of each pass."""
    bits = depth * SAMPLES[ct]
    bpp = max(1, bits // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        xs, ys = list(range(x0, w, dx)), list(range(y0, h, dy))
        if not xs or not ys:
            continue
        prev = None
        for k, y in enumerate(ys):
            row = pack_row([s for x in xs for s in pixels[y][x]], depth)
            raw += filter_row(k % 5, row, prev, bpp)
            prev = row
    data = zlib.compress(bytes(raw), 9)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ct, 0, 0, interlace))
    for c in extra:
        body += c
    if plte is not None:
        body += chunk(b"PLTE", bytes(v for rgb in plte for v in rgb))
    if trns is not None:
        body += chunk(b"tRNS", trns)
    if split_idat:
        cut = len(data) // 3
        body += chunk(b"IDAT", data[:cut]) + chunk(b"IDAT", data[cut:2 * cut]) + chunk(b"IDAT", data[2 * cut:])
    else:
        body += chunk(b"IDAT", data)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def sample(rng, depth, gray16=False):
    top = (1 << depth) - 1
    if gray16 and rng.random() < 0.5:
        return rng.randrange(0, 256)  # I;16 values that survive Pillow's clip to 255
    return rng.randrange(0, top + 1)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(16)
    cases = []
    w, h = 13, 11  # odd sizes: partial Adam7 blocks and partial bytes for packed depths
    for ct, depths in [(0, [1, 2, 4, 8, 16]), (2, [8, 16]), (3, [1, 2, 4, 8]), (4, [8, 16]), (6, [8, 16])]:
        for depth in depths:
            for interlace in (0, 1):
                n = SAMPLES[ct]
                plte = None
                if ct == 3:
                    entries = min(1 << depth, 200)  # a palette shorter than 2^8 entries
                    plte = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(entries)]
                    px = [[(rng.randrange(entries),) for _ in range(w)] for _ in range(h)]
                else:
                    px = [[tuple(sample(rng, depth, gray16=(ct == 0 and depth == 16)) for _ in range(n)) for _ in range(w)] for _ in range(h)]
                name = f"ct{ct}-d{depth}{'-adam7' if interlace else ''}.png"
                cases.append((name, encode(w, h, ct, depth, interlace, px, plte=plte)))
    # Variants: transparency chunks (alpha dropped), colour-management chunks (ignored), split IDAT,
    # a 1×1 interlaced image (six of the seven Adam7 passes are empty), a wide 16-bit gray with tRNS.
    px8 = [[(rng.randrange(256),) for _ in range(w)] for _ in range(h)]
    cases.append(("ct0-d8-trns.png", encode(w, h, 0, 8, 0, px8, trns=struct.pack(">H", px8[0][0][0]))))
    px16 = [[(sample(rng, 16, gray16=True),) for _ in range(w)] for _ in range(h)]
    cases.append(("ct0-d16-trns.png", encode(w, h, 0, 16, 0, px16, trns=struct.pack(">H", px16[0][0][0]))))
    rgb = [[tuple(rng.randrange(256) for _ in range(3)) for _ in range(w)] for _ in range(h)]
    cases.append(("ct2-d8-trns.png", encode(w, h, 2, 8, 0, rgb, trns=struct.pack(">HHH", *rgb[0][0]))))
    plte = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(16)]
    pidx = [[(rng.randrange(16),) for _ in range(w)] for _ in range(h)]
    cases.append(("ct3-d4-trns.png", encode(w, h, 3, 4, 0, pidx, plte=plte, trns=bytes(rng.randrange(256) for _ in range(10)))))
    icc = chunk(b"iCCP", b"fake\x00\x00" + zlib.compress(b"not a real profile"))
    gama = chunk(b"gAMA", struct.pack(">I", 100000))
    srgb_chunk = chunk(b"sRGB", b"\x00")
    cases.append(("ct2-d8-gama-iccp.png", encode(w, h, 2, 8, 0, rgb, extra=(gama, icc))))
    cases.append(("ct2-d8-srgb-split-idat.png", encode(w, h, 2, 8, 1, rgb, extra=(srgb_chunk,), split_idat=True)))
    cases.append(("ct6-d8-1x1-adam7.png", encode(1, 1, 6, 8, 1, [[(10, 20, 30, 0)]])))
    big = [[tuple(rng.randrange(256) for _ in range(3)) for _ in range(67)] for _ in range(45)]
    cases.append(("ct2-d8-67x45-adam7.png", encode(67, 45, 2, 8, 1, big)))

    index = {"pillow": PIL.__version__, "images": []}
    for name, data in cases:
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(data)
        im = Image.open(path)
        mode = im.mode
        rgb_bytes = im.convert("RGB").tobytes()
        index["images"].append({"file": name, "mode": mode, "width": im.size[0], "height": im.size[1], "rgb_hex": rgb_bytes.hex()})
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} PNGs to {OUT}")


if __name__ == "__main__":
    main()
