"""Zip archives made by CPython's zipfile, for src/io/archive/zip-extract.test.ts.

Writes test/fixtures/io/zip/:
  images.zip   DEFLATE and STORED entries under one top folder (eval_images/...), a directory
               entry and an empty file, with fixed timestamps (so regenerating gives the same bytes)
  evil.zip     an entry named ../escape.txt (must be refused)
  bzip2.zip    a BZIP2 entry (method 12: must be refused by name)
  badcrc.zip   images.zip with one byte of a STORED entry's data flipped (CRC-32 mismatch)
  manifest.json  for images.zip: every file entry's name, size, sha256 (of the bytes put in)

Run from the repository root: tools/reference/.venv/bin/python tools/reference/io_zip.py
"""

import hashlib
import json
import os
import zipfile

OUT = "test/fixtures/io/zip"
SRC = "test/fixtures/mmeb/v1/images"
STAMP = (2024, 1, 2, 3, 4, 6)


def add(z, name, data, method):
    info = zipfile.ZipInfo(name, date_time=STAMP)
    info.compress_type = method
    info.external_attr = 0o644 << 16
    z.writestr(info, data)


def main():
    os.makedirs(OUT, exist_ok=True)
    files = []
    for sub, method in (("ImageNet-1K/cat.jpg", zipfile.ZIP_DEFLATED), ("ImageNet-1K/dog.jpg", zipfile.ZIP_STORED),
                        ("MSCOCO_t2i/a.png", zipfile.ZIP_DEFLATED), ("WebQA/w1.png", zipfile.ZIP_STORED)):
        with open(os.path.join(SRC, sub), "rb") as fh:
            files.append(("eval_images/" + sub, fh.read(), method))
    files.append(("eval_images/notes/readme.txt", b"MMEB-eval test images\n" * 50, zipfile.ZIP_DEFLATED))
    files.append(("eval_images/notes/empty.txt", b"", zipfile.ZIP_DEFLATED))
    path = os.path.join(OUT, "images.zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("eval_images/", date_time=STAMP), b"")
        for name, data, method in files:
            add(z, name, data, method)
    manifest = [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest(),
                 "method": "deflate" if m == zipfile.ZIP_DEFLATED else "stored"} for n, d, m in files]
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump({"images.zip": manifest}, fh, indent=1)

    with zipfile.ZipFile(os.path.join(OUT, "evil.zip"), "w") as z:
        add(z, "ok.txt", b"fine\n", zipfile.ZIP_STORED)
        add(z, "../escape.txt", b"outside\n", zipfile.ZIP_STORED)
    with zipfile.ZipFile(os.path.join(OUT, "bzip2.zip"), "w") as z:
        add(z, "packed.txt", b"bzip2 data " * 100, zipfile.ZIP_BZIP2)

    # badcrc.zip: flip one byte inside the data of the STORED dog.jpg entry.
    with open(path, "rb") as fh:
        raw = bytearray(fh.read())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("eval_images/ImageNet-1K/dog.jpg")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 100] ^= 0xFF
    with open(os.path.join(OUT, "badcrc.zip"), "wb") as fh:
        fh.write(raw)


if __name__ == "__main__":
    main()
