"""Inputs for the weight converter's tests (tools/convert_torchvision.py): checkpoints as other code saves them.

usage: converter_inputs.py OUT_DIR   writes, from one seeded torchvision ResNet-18:
  plain.pth         its state_dict (torchvision's download format)
  all_half.pth      the same with every tensor .half()-ed (batch-norm counters too)
  nested.pth        {'model': the nn.Module itself, 'epoch': 3} (a training script's checkpoint)
  not_tensor.pth    {'state_dict': {...its tensors..., 'extra': [1, 2]}}
  prefixed.pth      its state_dict with every key under 'backbone.'
  grouped.pth       its state_dict with layer1.0's first convolutions shaped as ResNeXt-50 32x4d's
  grouped.safetensors  the same tensors as a weights file (the engine's own check, past the converter)
  doubled.pth       its state_dict with conv1.weight also under 'module.conv1.weight' (zeros)
  module.pth        its state_dict with every key under 'module.' (DataParallel's)
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def main():
    out = sys.argv[1]
    torch.manual_seed(11)
    model = torchvision.models.resnet18().eval()
    state = model.state_dict()
    torch.save(state, os.path.join(out, "plain.pth"))
    torch.save({"model": model, "epoch": 3}, os.path.join(out, "nested.pth"))
    torch.save({"state_dict": {**state, "extra": [1, 2]}}, os.path.join(out, "not_tensor.pth"))
    torch.save({"backbone." + k: v for k, v in state.items()}, os.path.join(out, "prefixed.pth"))
    grouped = dict(state)
    grouped["layer1.0.conv1.weight"] = torch.zeros(128, 64, 1, 1)
    grouped["layer1.0.conv2.weight"] = torch.zeros(128, 4, 3, 3)
    torch.save(grouped, os.path.join(out, "grouped.pth"))
    torch.save({**state, "module.conv1.weight": torch.zeros_like(state["conv1.weight"])},
               os.path.join(out, "doubled.pth"))
    torch.save({"module." + k: v for k, v in state.items()}, os.path.join(out, "module.pth"))
    # Every tensor .half()-ed, the batch-norm counters too (a careless cast of the whole dict).
    torch.save({k: v.half() for k, v in state.items()}, os.path.join(out, "all_half.pth"))
    safetensors_np.save(os.path.join(out, "grouped.safetensors"),
                        {k: v.numpy() for k, v in grouped.items() if not k.startswith("fc.")})


if __name__ == "__main__":
    main()
