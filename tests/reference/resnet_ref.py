"""Reference for ResNet parity: a seeded torchvision ResNet (random weights, non-trivial BN statistics) saved with
torch.save, and its pooled features (eval mode) of a few random images.

usage: resnet_ref.py ARCH IMAGE_SIZE NUM_IMAGES OUT_DIR
writes OUT_DIR/ARCH.pth (a torchvision state_dict) and OUT_DIR/ARCH_ref.safetensors {images, features}.
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def randomise_batch_norm(model):
    """Random running statistics and affine parameters, so that eval-mode BN is not the identity."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model


def main():
    arch, size, count, out_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    torch.manual_seed(1234)
    model = randomise_batch_norm(getattr(torchvision.models, arch)())
    model.eval()
    torch.save(model.state_dict(), os.path.join(out_dir, f"{arch}.pth"))
    images = torch.randn(count, 3, size, size)
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        features = model.double()(images.double()).float()
    safetensors_np.save(os.path.join(out_dir, f"{arch}_ref.safetensors"),
                        {"images": images.numpy(), "features": features.numpy()})


if __name__ == "__main__":
    main()
