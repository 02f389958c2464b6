#!/usr/bin/python3
"""Converts a torchvision ResNet checkpoint (.pth) to .safetensors with torchvision's key names.

usage: /usr/bin/python3 tools/convert_torchvision.py IN.pth OUT.safetensors [--keep-fc]

IN.pth is what torch.save wrote: a state_dict (as torchvision's download cache holds it, e.g.
~/.cache/torch/hub/checkpoints/resnet101-cd907fc2.pth), a dict holding one under 'state_dict' or 'model', or a
whole nn.Module. A 'module.' prefix (DataParallel) is stripped. The ImageNet classifier (fc.*) is dropped unless
--keep-fc is given (the engine ignores it either way). Needs torch (Debian: apt-get install python3-torch); no network.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402


def extract_state_dict(obj, path):
    import torch
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise SystemExit(f"error: {path}: not a state_dict, a checkpoint dict holding one, or an nn.Module "
                     f"(found {type(obj).__name__})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="torchvision checkpoint (.pth)")
    parser.add_argument("output", help="output .safetensors")
    parser.add_argument("--keep-fc", action="store_true", help="keep the ImageNet classifier fc.*")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("error: torch is not importable by this interpreter; run with /usr/bin/python3 after "
                         "'apt-get install python3-torch'")
    if not os.path.isfile(args.input):
        raise SystemExit(f"error: {args.input}: no such file")
    try:
        obj = torch.load(args.input, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        raise SystemExit(f"error: {args.input}: cannot be read by torch.load: {e}")
    state = extract_state_dict(obj, args.input)
    tensors = {}
    for name, value in state.items():
        if name.startswith("module."):
            name = name[len("module."):]
        if name.startswith("fc.") and not args.keep_fc:
            continue
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        tensors[name] = value.contiguous().numpy()
    if "conv1.weight" not in tensors or "layer1.0.conv1.weight" not in tensors:
        raise SystemExit(f"error: {args.input}: does not look like a torchvision ResNet (no conv1.weight / "
                         f"layer1.0.conv1.weight)")
    safetensors_np.save(args.output, tensors, {"source": os.path.basename(args.input), "format": "torchvision"})
    print(f"wrote {args.output}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
