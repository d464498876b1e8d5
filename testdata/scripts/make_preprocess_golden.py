#!/usr/bin/python3
"""torchvision oracle for Forge's image preprocessing (dev.forge.runtime.ImagePreprocessing).

Writes, under --out (default: testdata/golden-preprocess):

  photo.jpg    the test image, 64x48 RGB, JPEG quality 90, 4:2:0 chroma subsampling (Pillow's defaults).
               Made by this script when absent, never overwritten: a smooth two-color gradient, a disc,
               a band of 1-pixel stripes (which a resize without antialiasing would alias) and seeded
               noise (numpy default_rng(10)). Delete it to make a new one.
  photo.png    Pillow's decoding of photo.jpg, saved losslessly: the same pixels without a JPEG decoder
               in between, so that Forge and Pillow can be compared exactly.
  <case>/      per case and per source (png, jpg):
                 <source>-pixels.npy  uint8 [C, H, W]: Resize + CenterCrop on the PIL image (the pixels
                                      before ToTensor)
                 <source>-tensor.npy  float32 [C, H, W]: the whole torchvision transform, where the case
                                      normalizes (ToTensor + Normalize)
  cases.txt    one line per case: name, transform

Each case converts the image with Image.convert("RGB") or convert("L") and applies torchvision's
transforms.Resize(S) (PIL bilinear, which is antialiased) and transforms.CenterCrop((H, W)) as the
case says, then ToTensor() and Normalize(mean, std) for the tensor.

Usage: /usr/bin/python3 testdata/scripts/make_preprocess_golden.py [--out DIR]
Needs python3-torchvision (testdata/scripts/install_deps.sh). Two runs give identical files.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image
import torch
from torchvision import transforms

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(SCRIPT_DIR), "golden-preprocess")
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

# name: (color, resize or None, (crop h, crop w) or None, (mean, std) or None)
CASES = {
    "imagenet-shrink": ("RGB", 20, (16, 16), IMAGENET),  # 48 -> 20: 2.4x shrink, antialiased
    "unit-enlarge": ("RGB", 60, (56, 72), None),  # 48 -> 60: bilinear enlargement, non-square crop
    "gray-shrink": ("L", 13, (12, 11), ([0.5], [0.25])),  # odd sizes: half-to-even crop offsets
    "pad-crop": ("RGB", None, (52, 70), None),  # crop larger than the image: zero padding
}


def make_photo(path):
    h, w = 48, 64
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    img[..., 0] = 40 + 180 * x / (w - 1)
    img[..., 1] = 60 + 150 * y / (h - 1)
    img[..., 2] = 200 - 120 * (x + y) / (w + h - 2)
    disc = (x - 40) ** 2 + (y - 20) ** 2 < 12**2
    img[disc] = [230, 200, 40]
    stripes = (y >= 32) & (y < 42) & (x >= 6) & (x < 34)
    img[stripes] = np.where((x[stripes] % 2 == 0)[:, None], [250, 250, 250], [10, 10, 10])
    img += np.random.default_rng(10).normal(0, 6, img.shape)
    Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB").save(path, quality=90)


def transform(color, resize, crop, norm, tensor):
    steps = []
    if resize is not None:
        steps.append(transforms.Resize(resize))
    if crop is not None:
        steps.append(transforms.CenterCrop(crop))
    if tensor:
        steps.append(transforms.ToTensor())
        if norm is not None:
            steps.append(transforms.Normalize(*norm))
    return transforms.Compose(steps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    jpg = os.path.join(args.out, "photo.jpg")
    if not os.path.exists(jpg):
        make_photo(jpg)
    Image.open(jpg).convert("RGB").save(os.path.join(args.out, "photo.png"))
    lines = []
    for name, (color, resize, crop, norm) in CASES.items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        for source in ("png", "jpg"):
            img = Image.open(os.path.join(args.out, "photo." + source)).convert(color)
            pixels = np.asarray(transform(color, resize, crop, norm, False)(img), dtype=np.uint8)
            pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
            np.save(os.path.join(d, source + "-pixels.npy"), np.ascontiguousarray(pixels))
            if norm is not None:
                t = transform(color, resize, crop, norm, True)(img).numpy().astype(np.float32)
                np.save(os.path.join(d, source + "-tensor.npy"), t)
        lines.append(f"{name}: convert({color!r}), {transform(color, resize, crop, norm, True)}".replace("\n", " "))
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
