"""Reference for the image decoder tests (tests/test_image_decode.cpp): JPEG files written by PIL, and PIL's decoding.

usage:
  jpeg_ref.py corpus DIR
      writes, with PIL, valid JPEGs of one 96 x 64 picture: rgb.jpg (baseline, 4:2:0), rgb444.jpg (4:4:4),
      progressive.jpg, gray.jpg (single channel), cmyk.jpg (4 channels, Adobe marker), and odd.jpg (67 x 45,
      sizes that are not a multiple of the 16-pixel block, progressive 4:2:0).
  jpeg_ref.py decode DIR
      for every DIR/*.jpg and DIR/*.png: DIR/NAME.pil holds Image.open(f).convert("RGB") as raw bytes (H, W, 3),
      preceded by a line "WIDTH HEIGHT\\n"; or DIR/NAME.pilerr holds PIL's error when it cannot decode the file.
"""
import glob
import os
import sys

import numpy as np
from PIL import Image


def picture(width, height):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 11.0)
    g = 255 * x / max(width - 1, 1)
    b = 255 * ((x // 8 + y // 8) % 2) * (y / max(height - 1, 1))
    noise = np.random.default_rng(7).integers(-12, 13, size=(height, width, 3))
    rgb = np.stack([r, g, b], axis=-1) + noise
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")


def corpus(folder):
    im = picture(96, 64)
    im.save(os.path.join(folder, "rgb.jpg"), quality=90)
    im.save(os.path.join(folder, "rgb444.jpg"), quality=90, subsampling=0)
    im.save(os.path.join(folder, "progressive.jpg"), quality=90, progressive=True)
    im.convert("L").save(os.path.join(folder, "gray.jpg"), quality=90)
    im.convert("CMYK").save(os.path.join(folder, "cmyk.jpg"), quality=90)
    picture(67, 45).save(os.path.join(folder, "odd.jpg"), quality=85, progressive=True)
    with Image.open(os.path.join(folder, "cmyk.jpg")) as check:
        assert check.mode == "CMYK", check.mode


def decode(folder):
    for path in sorted(glob.glob(os.path.join(folder, "*.jpg")) + glob.glob(os.path.join(folder, "*.png"))):
        stem = os.path.splitext(path)[0]
        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except Exception as e:  # noqa: BLE001 - any failure is "PIL cannot decode it"
            with open(stem + ".pilerr", "w") as f:
                f.write("%s: %s\n" % (type(e).__name__, e))
            continue
        with open(stem + ".pil", "wb") as f:
            f.write(b"%d %d\n" % (rgb.shape[1], rgb.shape[0]))
            f.write(rgb.tobytes())


if __name__ == "__main__":
    {"corpus": corpus, "decode": decode}[sys.argv[1]](sys.argv[2])
