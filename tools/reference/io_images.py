"""Golden fixtures for image decoding, Pillow BICUBIC resizing and the Qwen2-VL image/video processor.

Reference: Pillow 12.3 + transformers 5.18 `Qwen2VLImageProcessorPil` (the Pillow path VLM2Vec used),
run in the reference environment (tools/reference/README.md). Writes test/fixtures/io/images/** and test/fixtures/io/video/**.

Regenerate (from the repo root):
    apt-get download ukui-wallpapers lomiri-wallpapers-20.04 tk8.6-doc && dpkg -x <each>.deb /tmp/debs/x
    apt-get install desktop-base tango-icon-theme python-pil-doc sway-backgrounds   # or dpkg -x them too
    tools/reference/.venv/bin/python tools/reference/io_images.py [--sources]
`--sources` (re)builds the committed source images from the Debian files first; without it the
committed images under test/fixtures/io/images/src/ are used as they are.
"""

import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import struct
import sys
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMG_DIR = os.path.join(ROOT, "test/fixtures/io/images")
SRC_DIR = os.path.join(IMG_DIR, "src")
GOLD_DIR = os.path.join(IMG_DIR, "golden")
VID_DIR = os.path.join(ROOT, "test/fixtures/io/video")
DEBS = "/tmp/debs/x"
FFMPEG = os.path.join(ROOT, "node_modules/@ffmpeg-installer/linux-x64/ffmpeg")

MIN_PIXELS = 4 * 28 * 28  # VLM2Vec V2 settings (docs/vlm2vec.md §1.4)
MAX_PIXELS = 1280 * 28 * 28


def write_png16_rgb(path, arr16):
    """Minimal 16-bit RGB PNG writer (Pillow cannot write 16-bit RGB)."""
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def build_sources():
    """Copies/derives the fixture images from files shipped by Debian packages."""
    os.makedirs(SRC_DIR, exist_ok=True)
    bg = f"{DEBS}/usr/share/backgrounds"
    tk = f"{DEBS}/usr/share/doc/tk8.6-doc/demos/images"
    copies = {
        # >4 MP photo-like JPEG (lomiri-wallpapers-20.04), 4096×2304, compresses well
        "fossa-4096x2304.jpg": f"{bg}/Fossa_by_Jasper_Roks.jpg",
        # JPEG with EXIF + ICC profile (desktop-base, Plasma preview)
        "plasma-preview-exif-icc.jpg": "/usr/share/plasma/look-and-feel/org.debian.desktop/contents/previews/fullscreenpreview.jpg",
        "joy-sddm-preview.jpg": "/usr/share/desktop-base/joy-theme/login/sddm-preview.jpg",
        # PNG RGB with an ICC profile (tk8.6-doc)
        "ouster-icc.png": f"{tk}/ouster.png",
        # PNG RGBA (tk8.6-doc, desktop-base)
        "earthmenu-rgba.png": f"{tk}/earthmenu.png",
        "emblem-debian-rgba-256.png": "/usr/share/icons/hicolor/256x256/emblems/emblem-debian.png",
        # palette PNG with tRNS transparency (desktop-base)
        "debian-logo-p-trns-128.png": "/usr/share/desktop-base/debian-logos/logo-128.png",
        "futureprototype-grub-p-640x480.png": "/usr/share/desktop-base/futureprototype-theme/grub/grub-4x3.png",
        "lines-background-p-1920x1200.png": "/usr/share/plymouth/themes/lines/background.png",
        # gray+alpha 21×21 (tiny: < 28 px) and 8-bit gray 11×11 (python-pil-doc)
        "password-dot-la-21.png": "/usr/share/plymouth/themes/joy/password_dot16.png",
        "pil-doc-plus-l-11.png": "/usr/share/doc/python-pil-doc/html/_static/plus.png",
        # RGBA with alpha over varied RGB (python-pil-doc figure)
        "pil-doc-anchors-rgba.png": "/usr/share/doc/python-pil-doc/html/_images/anchors.png",
        # GIF (tk8.6-doc)
        "earth.gif": f"{tk}/earth.gif",
        "tcllogo.gif": f"{tk}/tcllogo.gif",
        # Tango icon 22×22 RGBA (tiny)
        "tango-folder-22.png": "/usr/share/icons/Tango/22x22/places/folder.png",
    }
    for name, src in copies.items():
        shutil.copyfile(src, os.path.join(SRC_DIR, name))

    fossa = Image.open(f"{bg}/Fossa_by_Jasper_Roks.jpg").convert("RGB")
    joy = Image.open("/usr/share/desktop-base/joy-theme/login/sddm-preview.jpg").convert("RGB")
    teapot = Image.open(f"{tk}/teapot.ppm").convert("RGB")
    earthris = Image.open(f"{tk}/earthris.gif")
    # Panoramas cropped from real images: wide (aspect ~13.7) and tall (aspect ~8.3).
    fossa.crop((0, 1000, 4096, 1300)).save(os.path.join(SRC_DIR, "panorama-wide-4096x300.jpg"), quality=90)
    sway = Image.open("/usr/share/backgrounds/sway/Sway_Wallpaper_Blue_768x1024_Portrait.png").convert("RGB")
    sway.crop((300, 0, 423, 1024)).save(os.path.join(SRC_DIR, "panorama-tall-123x1024.png"))
    # 70×70 (rounds to 56 with half-to-even) and 10×10 (tiny-image rule) crops of a photo.
    joy.crop((400, 200, 470, 270)).save(os.path.join(SRC_DIR, "crop-70x70.png"))
    joy.crop((450, 250, 460, 260)).save(os.path.join(SRC_DIR, "crop-10x10.png"))
    # CMYK JPEG (Pillow writes Adobe-inverted CMYK; convert("RGB") uses its naive formula).
    joy.crop((200, 100, 400, 250)).convert("CMYK").save(os.path.join(SRC_DIR, "joy-cmyk.jpg"), quality=90)
    # Grayscale JPEG.
    joy.convert("L").save(os.path.join(SRC_DIR, "joy-gray.jpg"), quality=92)
    # JPEG carrying EXIF orientation 6 (must NOT be rotated, as Pillow does not rotate).
    exif = Image.Exif()
    exif[0x0112] = 6
    joy.crop((0, 0, 300, 200)).save(os.path.join(SRC_DIR, "exif-orientation-6.jpg"), quality=90, exif=exif)
    # WebP lossy, WebP lossless with alpha, TIFF, BMP 24-bit and 8-bit palette, converted from real images.
    joy.save(os.path.join(SRC_DIR, "joy-lossy.webp"), quality=80)
    Image.open("/usr/share/icons/hicolor/256x256/emblems/emblem-debian.png").save(
        os.path.join(SRC_DIR, "emblem-lossless-rgba.webp"), lossless=True)
    teapot.save(os.path.join(SRC_DIR, "teapot.tiff"), compression="tiff_lzw")
    teapot.save(os.path.join(SRC_DIR, "teapot-24bit.bmp"))
    earthris.save(os.path.join(SRC_DIR, "earthris-8bit-palette.bmp"))
    # 16-bit PNGs: RGB (own writer) and gray I;16 (Pillow), from a photo crop with low bits set.
    crop = np.asarray(joy.crop((100, 100, 260, 220)), dtype=np.uint16)
    write_png16_rgb(os.path.join(SRC_DIR, "joy-rgb16.png"), crop * 257 + 77)
    gray16 = np.asarray(joy.convert("L").crop((100, 100, 260, 220)), dtype=np.uint32) * 257 + 3
    Image.fromarray(gray16.astype(np.uint16)).save(os.path.join(SRC_DIR, "joy-gray16.png"))


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def row_subset(n, k=8):
    """Deterministic rows to store in full: first, last and k evenly spaced (same rule in the test)."""
    return sorted(set([0, n - 1] + [(i * (n - 1)) // (k - 1) for i in range(k)]))


def main():
    if "--sources" in sys.argv:
        build_sources()
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil, smart_resize

    proc = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    os.makedirs(GOLD_DIR, exist_ok=True)
    index = {"pillow": Image.__version__, "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS, "images": []}
    for name in sorted(os.listdir(SRC_DIR)):
        path = os.path.join(SRC_DIR, name)
        im = Image.open(path)
        mode, fmt = im.mode, im.format
        rgb = im.convert("RGB")
        decoded = np.asarray(rgb)
        w, h = rgb.size
        # VLM2Vec's collator rule (docs/vlm2vec.md §1.3): a side < 28 → resize to 56×56, PIL default (bicubic).
        tiny = w < 28 or h < 28
        if tiny:
            rgb = rgb.resize((56, 56))
        rh, rw = smart_resize(rgb.size[1], rgb.size[0], factor=28, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
        resized = rgb.resize((rw, rh), Image.BICUBIC)
        out = proc(images=[rgb], return_tensors="np")
        pv = out["pixel_values"].astype(np.float32)
        grid = out["image_grid_thw"].tolist()[0]
        stem = os.path.splitext(name)[0]
        # Saved from the bare array: no ICC profile or other metadata travels into the golden PNG.
        Image.fromarray(np.asarray(resized)).save(os.path.join(GOLD_DIR, f"{stem}.resized.png"))
        rows = row_subset(pv.shape[0])
        pv[rows].tofile(os.path.join(GOLD_DIR, f"{stem}.rows.f32"))
        np.asarray(pv.astype(np.float64).sum(axis=0)).tofile(os.path.join(GOLD_DIR, f"{stem}.colsum.f64"))
        index["images"].append({
            "file": f"src/{name}", "format": fmt, "mode": mode, "width": w, "height": h,
            "decoded_sha256": sha256(decoded.tobytes()), "tiny": tiny,
            "resized": [rh, rw], "grid_thw": grid, "n_patches": int(pv.shape[0]), "rows": rows,
            "pixel_values_sha256": sha256(pv.tobytes()),
        })
        print(f"{name:40} {fmt:5} {mode:5} {w}x{h} -> {rw}x{rh} grid {grid}")
    # Non-default bounds (Qwen's own min 56·56, a small max) on a few images: grids and value hashes.
    small = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=28 * 28 * 16)
    index["custom_limits"] = {"min_pixels": 56 * 56, "max_pixels": 28 * 28 * 16, "images": []}
    for name in ["fossa-4096x2304.jpg", "panorama-wide-4096x300.jpg", "crop-70x70.png", "tcllogo.gif"]:
        rgb = Image.open(os.path.join(SRC_DIR, name)).convert("RGB")
        out = small(images=[rgb], return_tensors="np")
        index["custom_limits"]["images"].append({
            "file": f"src/{name}", "grid_thw": out["image_grid_thw"].tolist()[0],
            "pixel_values_sha256": sha256(out["pixel_values"].astype(np.float32).tobytes()),
        })
    with open(os.path.join(IMG_DIR, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


def reference_video(frames, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS):
    """The VLM2Vec repo's Qwen2VLImageProcessor._preprocess for `videos=[frames]`, written with the
    same transformers primitives it calls: every frame converted to RGB, resized (Pillow BICUBIC via
    image_transforms.resize) to the smart_resize of the FIRST frame, rescaled, normalised, stacked,
    padded to an even T by repeating the last frame, then reshaped/transposed into patches."""
    from transformers.image_transforms import normalize, rescale, resize
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ChannelDimension
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    arrs = [np.asarray(f.convert("RGB")) for f in frames]
    height, width = arrs[0].shape[:2]
    rh, rw = smart_resize(height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels)
    out = []
    for a in arrs:
        a = resize(a, size=(rh, rw), resample=Image.BICUBIC, input_data_format=ChannelDimension.LAST)
        a = rescale(a, scale=1 / 255, input_data_format=ChannelDimension.LAST)
        a = normalize(a, mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD, input_data_format=ChannelDimension.LAST)
        out.append(a.transpose(2, 0, 1))
    patches = np.array(out)
    if patches.shape[0] % 2 != 0:
        patches = np.concatenate([patches, np.repeat(patches[-1][np.newaxis], 1, axis=0)], axis=0)
    t, c = patches.shape[0] // 2, patches.shape[1]
    gh, gw = rh // 14, rw // 14
    patches = patches.reshape(t, 2, c, gh // 2, 2, 14, gw // 2, 2, 14).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return patches.reshape(t * gh * gw, c * 2 * 14 * 14).astype(np.float32), [t, gh, gw]


def natural_key(s):
    import re
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def load_frames(frame_dir):
    """VLM2Vec's load_frames: natural sort, keep .jpg/.jpeg/.png (case-insensitive)."""
    names = sorted(os.listdir(frame_dir), key=natural_key)
    return [f"{frame_dir}/{n}" for n in names if os.path.splitext(n)[-1].lower() in (".jpg", ".jpeg", ".png")]


def process_video_frames(frame_dir, num_frames=8):
    frames = load_frames(frame_dir)
    if num_frames <= len(frames):
        idx = np.linspace(0, len(frames) - 1, num_frames, dtype=int).tolist()
        frames = [frames[i] for i in idx]
    return frames


def count_frames_ffmpeg(path):
    """Decoded-frame count (what ffprobe's nb_read_frames reports); ffprobe is not shipped here."""
    r = subprocess.run([FFMPEG, "-v", "error", "-nostats", "-i", path, "-map", "0:v:0", "-vsync", "0",
                        "-f", "null", "-", "-progress", "pipe:1"], capture_output=True, text=True, check=True)
    return int([l for l in r.stdout.splitlines() if l.startswith("frame=")][-1].split("=")[1])


def save_frames(video_path, frame_dir, max_frames_saved=64):
    """VLM2Vec's save_frames (ffmpeg route), with the static ffmpeg binary in place of `ffmpeg`."""
    os.makedirs(frame_dir, exist_ok=True)
    total = count_frames_ffmpeg(video_path)
    if total <= max_frames_saved:
        idx = list(range(total))
    else:
        step = total / max_frames_saved
        idx = [math.floor(i * step) for i in range(max_frames_saved)]
    select_expr = "+".join([f"eq(n\\,{i})" for i in idx])
    subprocess.run([FFMPEG, "-v", "error", "-i", video_path, "-vf", f"select='{select_expr}'", "-vsync", "vfr",
                    os.path.join(frame_dir, "frame_%04d.jpg")], check=True)
    return total, idx


def video_golden(name, frames, extra):
    pv, grid = reference_video([Image.open(f) for f in frames])
    rows = row_subset(pv.shape[0])
    pv[rows].tofile(os.path.join(VID_DIR, f"{name}.rows.f32"))
    pv.astype(np.float64).sum(axis=0).tofile(os.path.join(VID_DIR, f"{name}.colsum.f64"))
    entry = {"frames": [os.path.relpath(f, VID_DIR) for f in frames], "grid_thw": grid, "n_patches": int(pv.shape[0]),
             "rows": rows, "pixel_values_sha256": sha256(pv.tobytes())}
    entry.update(extra)
    print(name, grid, pv.shape)
    return entry


def build_video_sources():
    """A frame folder (camera pan over a real image, unpadded names, one odd-sized frame, a non-frame
    file, an upper-case extension) and a 70-frame H.264 mp4 (pan over the Fossa wallpaper)."""
    joy = Image.open("/usr/share/desktop-base/joy-theme/login/sddm-preview.jpg").convert("RGB")
    fdir = os.path.join(VID_DIR, "frames")
    shutil.rmtree(fdir, ignore_errors=True)
    os.makedirs(fdir)
    for i in range(1, 11):
        box = (40 + 30 * i, 100 + 8 * i, 40 + 30 * i + 160, 100 + 8 * i + 120)
        im = joy.crop(box)
        if i == 6:
            im = im.resize((150, 110), Image.BICUBIC)  # a frame of another size: resized to frame 1's target
        ext = ".JPG" if i == 7 else ".jpg"
        im.save(os.path.join(fdir, f"img_{i}{ext}"), quality=90)
    with open(os.path.join(fdir, "notes.txt"), "w") as f:
        f.write("not a frame\n")
    fossa = Image.open(f"{DEBS}/usr/share/backgrounds/Fossa_by_Jasper_Roks.jpg").convert("RGB").resize((1024, 576), Image.BICUBIC)
    tmp = "/tmp/io_images_video_src"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for i in range(70):
        fossa.crop((10 * i, 200, 10 * i + 128, 296)).save(os.path.join(tmp, f"{i:03d}.png"))
    subprocess.run([FFMPEG, "-v", "error", "-y", "-framerate", "10", "-i", os.path.join(tmp, "%03d.png"), "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "28", os.path.join(VID_DIR, "pan.mp4")], check=True)


RESAMPLE_CASES = [  # (in_w, in_h, out_w, out_h): up/down-scaling, odd sizes, 1-pixel sides, one-axis-only, copies
    (1, 1, 1, 1), (1, 1, 7, 5), (7, 5, 1, 1), (1, 9, 4, 3), (9, 1, 3, 4), (2, 2, 3, 3), (3, 3, 2, 2),
    (17, 13, 31, 29), (31, 29, 17, 13), (64, 48, 63, 47), (100, 80, 33, 27), (300, 7, 11, 7), (7, 300, 7, 11),
    (50, 50, 200, 200), (200, 150, 50, 37), (160, 120, 168, 112), (999, 3, 28, 28), (4, 1000, 28, 1),
    (123, 77, 123, 77), (57, 57, 56, 56), (5, 5, 5, 6), (1000, 1, 1, 1), (33, 65, 97, 13), (29, 28, 56, 56),
    (2, 500, 3, 9), (3, 400, 1, 401),  # taller than 100× width: Image.resize runs the vertical pass first
]


def lcg_bytes(n, seed):
    """Deterministic noise, generated identically by the TS test: x = (x·1103515245 + 12345) mod 2^31."""
    out = np.empty(n, dtype=np.uint8)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return out


def resample_goldens():
    """Pillow BICUBIC on noise images (worst case for overshoot and clipping), all outputs in one file."""
    blobs, cases = [], []
    for k, (w, h, ow, oh) in enumerate(RESAMPLE_CASES):
        src = lcg_bytes(w * h * 3, seed=k + 1).reshape(h, w, 3)
        out = np.asarray(Image.fromarray(src, "RGB").resize((ow, oh), Image.BICUBIC))
        cases.append({"in": [w, h], "out": [ow, oh], "seed": k + 1, "offset": sum(len(b) for b in blobs)})
        blobs.append(out.tobytes())
    with open(os.path.join(IMG_DIR, "resample.bin"), "wb") as f:
        f.write(b"".join(blobs))
    with open(os.path.join(IMG_DIR, "resample.json"), "w") as f:
        json.dump(cases, f)


def videos():
    os.makedirs(VID_DIR, exist_ok=True)
    if "--sources" in sys.argv:
        build_video_sources()
    index = {}
    # Sanity check of the transcription above: for one image the repo path equals the Pil processor.
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    one = Image.open(os.path.join(SRC_DIR, "joy-sddm-preview.jpg"))
    pil = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)(images=[one], return_tensors="np")
    assert np.array_equal(reference_video([one])[0], pil["pixel_values"]), "video path transcription disagrees"

    fdir = os.path.join(VID_DIR, "frames")
    listed = load_frames(fdir)
    picked = process_video_frames(fdir, 8)
    index["folder"] = video_golden("folder", picked, {"listed": [os.path.basename(f) for f in listed]})
    # An odd frame count (3): the last frame is repeated to make T even.
    index["odd"] = video_golden("odd", listed[:3], {})

    xdir = os.path.join(VID_DIR, "pan-frames")
    shutil.rmtree(xdir, ignore_errors=True)
    total, idx = save_frames(os.path.join(VID_DIR, "pan.mp4"), xdir)
    extracted = load_frames(xdir)
    assert len(extracted) == len(idx)
    picked = process_video_frames(xdir, 8)
    index["file"] = video_golden("file", picked, {
        "total_frames": total, "saved_indices": idx,
        "extracted_sha256": {os.path.basename(f): sha256(open(f, "rb").read()) for f in extracted},
        "decoded_sha256": {os.path.basename(f): sha256(np.asarray(Image.open(f).convert("RGB")).tobytes()) for f in picked},
    })
    # Keep only the 8 sampled reference frames in the repo; the test extracts its own 64.
    for f in extracted:
        if f not in picked:
            os.remove(f)
    with open(os.path.join(VID_DIR, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
    resample_goldens()
    videos()
