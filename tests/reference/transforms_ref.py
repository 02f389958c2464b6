"""Reference for the data transform (tests/test_data_transform.cpp): torchvision's preprocessing of the same pixels.

usage:
  transforms_ref.py cases IN.safetensors OUT.safetensors
      IN holds, per case k, `image_k` (H, W, 3) float32 pixel values 0..255 and `params_k` float32
      [top, left, height, width, flip, size]. OUT holds, per case, the (3, size, size) normalised input that each
      torchvision path makes of the crop (top, left, height, width) resized to size x size, mirrored when flip:
        pil_k         PIL image: F.resized_crop(BILINEAR) (PIL's antialiased bilinear, what Resize does to the
                      PIL images of the paper's pipeline), hflip, ToTensor, Normalize
        tensor_k      uint8 tensor: F.resized_crop(BILINEAR, antialias=False) (plain bilinear interpolation)
        tensor_aa_k   uint8 tensor: the same with antialias=True
  transforms_ref.py resize_crop IN.safetensors OUT.safetensors
      IN as for `cases`, with `params_k` [top, left, height, width, resize, size]: OUT's `pil_k` is what
      torchvision's evaluation pipeline of the Divide & Conquer authors makes of the crop (top, left, height, width)
      of the PIL image: Resize(resize) (shorter side, BILINEAR), CenterCrop(size), ToTensor, Normalize.
  transforms_ref.py random_resized IN.json OUT.json
      replays, through torchvision's own RandomResizedCrop.get_params (default scale and ratio), the random numbers
      our crop drew. IN: {"cases": [{"width", "height", "uniforms": [u, ...], "belows": [[n, r], ...]}, ...]}, where
      each u in [0, 1) stands for torch.empty(1).uniform_(a, b) = a + (b - a) * u (a and b torchvision's own bounds)
      and each [n, r] for torch.randint(0, n) = r (n is checked). OUT: {"windows": [[top, left, height, width], ...]}.
      Every recorded number must be used, and no more.
  transforms_ref.py gray OUT.jpg OUT.safetensors
      writes a single-channel (grayscale) JPEG with PIL and, in OUT.safetensors, `gray` (H, W) float32: the values
      PIL decodes from it.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import safetensors_np  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def normalise(chw_uint8):
    x = chw_uint8.to(torch.float32) / 255.0  # as ToTensor
    return F.normalize(x, MEAN, STD)


def image_cases(in_path):
    """(k, (H, W, 3) uint8 pixels, the six integer parameters) of each case in IN."""
    tensors, _ = safetensors_np.load(in_path)
    for name in sorted(tensors):
        if name.startswith("image_"):
            k = name[len("image_"):]
            pixels = np.clip(np.rint(tensors[name]), 0, 255).astype(np.uint8)
            yield k, pixels, [int(round(v)) for v in tensors["params_" + k]]


def cases(in_path, out_path):
    out = {}
    for k, pixels, (top, left, h, w, flip, size) in image_cases(in_path):
        pil = F.resized_crop(Image.fromarray(pixels), top, left, h, w, [size, size], InterpolationMode.BILINEAR)
        if flip:
            pil = F.hflip(pil)
        out["pil_" + k] = F.normalize(F.to_tensor(pil), MEAN, STD).numpy()
        chw = torch.from_numpy(pixels).permute(2, 0, 1).contiguous()
        for key, aa in (("tensor_", False), ("tensor_aa_", True)):
            t = F.resized_crop(chw, top, left, h, w, [size, size], InterpolationMode.BILINEAR, antialias=aa)
            if flip:
                t = F.hflip(t)
            out[key + k] = normalise(t).numpy()
    safetensors_np.save(out_path, out)


def resize_crop(in_path, out_path):
    out = {}
    for k, pixels, (top, left, h, w, resize, size) in image_cases(in_path):
        pil = F.crop(Image.fromarray(pixels), top, left, h, w)
        pil = T.CenterCrop(size)(T.Resize(resize, InterpolationMode.BILINEAR)(pil))
        out["pil_" + k] = F.normalize(F.to_tensor(pil), MEAN, STD).numpy()
    safetensors_np.save(out_path, out)


class _ReplayedTorch:
    """Stands in for the `torch` module inside torchvision.transforms.transforms: torch.empty(1).uniform_ and
    torch.randint return the recorded numbers; everything else is torch's."""

    def __init__(self, uniforms, belows):
        self.uniforms, self.belows = list(uniforms), list(belows)

    def __getattr__(self, name):
        return getattr(torch, name)

    def empty(self, *size):
        replay = self

        class _Draw:
            def uniform_(self, a, b):
                a, b = float(a), float(b)
                u = replay.uniforms.pop(0)
                return torch.tensor([a + (b - a) * u], dtype=torch.float64)

        return _Draw()

    def randint(self, low, high, size):
        n, r = self.belows.pop(0)
        assert low == 0 and high == n, (low, high, n)
        assert 0 <= r < n, (r, n)
        return torch.tensor([r])


def random_resized(in_path, out_path):
    import torchvision.transforms.transforms as tt

    with open(in_path) as f:
        cases_in = json.load(f)["cases"]
    windows = []
    real_torch = tt.torch
    try:
        for case in cases_in:
            replay = _ReplayedTorch(case["uniforms"], case["belows"])
            tt.torch = replay
            image = real_torch.zeros(3, case["height"], case["width"])
            top, left, h, w = T.RandomResizedCrop.get_params(image, [0.08, 1.0], [3.0 / 4.0, 4.0 / 3.0])
            assert not replay.uniforms and not replay.belows, "recorded numbers left over"
            windows.append([int(top), int(left), int(h), int(w)])
    finally:
        tt.torch = real_torch
    with open(out_path, "w") as f:
        json.dump({"windows": windows}, f)


def gray(jpg_path, out_path):
    y, x = np.mgrid[0:24, 0:40]
    values = (x * 6 + y * 3).astype(np.uint8)
    Image.fromarray(values, mode="L").save(jpg_path, quality=95)
    decoded = Image.open(jpg_path)
    assert decoded.mode == "L", decoded.mode
    safetensors_np.save(out_path, {"gray": np.asarray(decoded, np.float32)})


if __name__ == "__main__":
    {"cases": cases, "resize_crop": resize_crop, "random_resized": random_resized, "gray": gray}[sys.argv[1]](
        sys.argv[2], sys.argv[3])
