"""Reference for `sgml embed`: a seeded torchvision ResNet-18 saved with torch.save, a few PNG images at the model
size (lossless, decoded by PIL), and torchvision's pooled features of them with the ImageNet normalisation.

usage: embed_ref.py OUT_DIR SIZE COUNT   writes resnet18.pth, img_K.png and features.npy
"""
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image


def main():
    out, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.manual_seed(5)
    model = torchvision.models.resnet18().eval()
    torch.save(model.state_dict(), os.path.join(out, "resnet18.pth"))
    model.fc = torch.nn.Identity()
    rng = np.random.default_rng(1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    batch = []
    for k in range(count):
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        path = os.path.join(out, f"img_{k}.png")
        Image.fromarray(pixels).save(path)
        x = torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)
        batch.append((x - mean) / std)
    with torch.no_grad():
        features = model(torch.stack(batch)).numpy().astype(np.float32)
    np.save(os.path.join(out, "features.npy"), features)


if __name__ == "__main__":
    main()
