#!/usr/bin/python3
"""Converts a torchvision ResNet checkpoint (.pth) to .safetensors with torchvision's key names.

usage: /usr/bin/python3 tools/convert_torchvision.py IN.pth OUT.safetensors [--keep-fc]

IN.pth is what torch.save wrote: a state_dict (as torchvision's download cache holds it, e.g.
~/.cache/torch/hub/checkpoints/resnet101-cd907fc2.pth), a dict holding one (or an nn.Module) under 'state_dict',
'model' or 'model_state_dict', or a whole nn.Module. The file is a pickle: convert only files you trust. A 'module.' prefix (DataParallel) is stripped. The ImageNet classifier (fc.*) is dropped unless
--keep-fc is given (the engine ignores it either way). Needs torch (Debian: apt-get install python3-torch); no network.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402


def extract_state_dict(obj, path):
    """The {name: tensor} that `obj` (what torch.load returned) holds, or an error naming `path`."""
    import torch
    where = ""
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                obj, where = obj[key], f" (under '{key}')"
                break
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict) and obj:
        for name, value in obj.items():
            if not isinstance(value, torch.Tensor):
                raise SystemExit(f"error: {path}: the state_dict{where} holds {name!r}, a {type(value).__name__}, "
                                 f"where a tensor was expected")
        return obj
    raise SystemExit(f"error: {path}: not a state_dict, a checkpoint dict holding one, or an nn.Module "
                     f"(found {'an empty ' if obj == {} else ''}{type(obj).__name__})")


def check_plain_resnet(tensors, path):
    """Refuses what is no torchvision ResNet-18/34/50/101/152, naming what it found."""
    names = sorted(tensors)
    for key in ("conv1.weight", "layer1.0.conv1.weight", "layer1.0.conv2.weight"):
        if key not in tensors:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise SystemExit(f"error: {path}: does not look like a torchvision ResNet: no {key} among its "
                             f"{len(names)} tensors ({shown}); a prefix such as 'backbone.' must be removed first")
    # ResNeXt and Wide ResNet share the names; their first block is grouped or wider (models/arch_detect.cpp).
    conv1, conv2 = tensors["layer1.0.conv1.weight"].shape, tensors["layer1.0.conv2.weight"].shape
    if len(conv1) != 4 or len(conv2) != 4 or conv1[0] != 64 or tuple(conv2[:2]) != (64, 64):
        raise SystemExit(f"error: {path}: a ResNet variant (layer1.0.conv1.weight {list(conv1)}, layer1.0.conv2.weight "
                         f"{list(conv2)}; a plain ResNet has [64, C, k, k] and [64, 64, 3, 3]): wider or grouped "
                         f"blocks (Wide ResNet, ResNeXt) are not supported")


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
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise SystemExit(f"error: {args.output}: the folder {out_dir} does not exist")
    try:
        # A whole nn.Module is a pickle, which torch >= 2.6 loads only with weights_only=False (torch 1.13, Debian's,
        # has the argument and loaded pickles by default): convert only files you trust.
        obj = torch.load(args.input, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        raise SystemExit(f"error: {args.input}: cannot be read by torch.load: {e}")
    state = extract_state_dict(obj, args.input)
    tensors, source_key = {}, {}
    for key, value in state.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name in source_key:  # e.g. "conv1.weight" beside "module.conv1.weight": which one is meant is unknowable
            raise SystemExit(f"error: {args.input}: the keys '{source_key[name]}' and '{key}' both give '{name}' "
                             "(a state dict saved with and without DataParallel's 'module.' prefix?)")
        source_key[name] = key
        if name.startswith("fc.") and not args.keep_fc:
            continue
        value = value.detach().cpu()
        if name.endswith("num_batches_tracked"):  # a counter, even where the whole state dict was .half()-ed
            value = value.long()
        elif value.is_floating_point():
            value = value.float()
        tensors[name] = value.contiguous().numpy()
    check_plain_resnet(tensors, args.input)
    try:
        safetensors_np.save(args.output, tensors, {"source": os.path.basename(args.input), "format": "torchvision"})
    except (OSError, ValueError) as e:  # ValueError: a dtype safetensors_np does not write (int16, quantized)
        raise SystemExit(f"error: {args.output}: cannot be written: {e}")
    print(f"wrote {args.output}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
