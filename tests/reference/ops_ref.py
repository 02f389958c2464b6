"""PyTorch reference for the engine's ops: forward values and gradients in float64.

usage: ops_ref.py MANIFEST.json
The manifest lists cases {name, op, params, input, output}; each input file holds the op's inputs and the upstream
gradient `dy`; the output file receives `y` and the gradient of every input that the op differentiates.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def t(a, grad=True):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def epilogue(y, p, inp, named):
    """ResNet's end of a block after batch norm: + r (its gradient is "dr"), then ReLU, where the case asks."""
    if p.get("residual"):
        r = t(inp["r"])
        named["dr"] = r
        y = y + r
    if p.get("relu"):
        y = F.relu(y)
    return y


def run_case(op, p, inp):
    out = {}
    if op == "conv2d":
        x, w = t(inp["x"]), t(inp["w"])
        y = F.conv2d(x, w, stride=p["stride"], padding=p["pad"])
        named = {"dx": x, "dw": w}
    elif op == "batch_norm2d_train":
        x, g, b = t(inp["x"]), t(inp["gamma"]), t(inp["beta"])
        rm, rv = torch.tensor(inp["rm"], dtype=torch.float64), torch.tensor(inp["rv"], dtype=torch.float64)
        y = F.batch_norm(x, rm, rv, g, b, training=True, momentum=0.1, eps=1e-5)
        out["rm_out"], out["rv_out"] = rm.numpy(), rv.numpy()
        named = {"dx": x, "dgamma": g, "dbeta": b}
        y = epilogue(y, p, inp, named)
    elif op == "batch_norm2d_eval":
        x, g, b = t(inp["x"]), t(inp["gamma"]), t(inp["beta"])
        rm, rv = torch.tensor(inp["rm"], dtype=torch.float64), torch.tensor(inp["rv"], dtype=torch.float64)
        y = F.batch_norm(x, rm, rv, g, b, training=False, eps=1e-5)
        out["rm_out"], out["rv_out"] = rm.numpy(), rv.numpy()
        named = {"dx": x, "dgamma": g, "dbeta": b}
        y = epilogue(y, p, inp, named)
    elif op == "bn_running_stats":
        # Several training steps of one nn.BatchNorm2d on successive inputs x0, x1, ...
        bn = torch.nn.BatchNorm2d(inp["x0"].shape[1]).double()
        k = 0
        while f"x{k}" in inp:
            y = bn(torch.tensor(inp[f"x{k}"], dtype=torch.float64))
            k += 1
        out["rm_out"] = bn.running_mean.numpy()
        out["rv_out"] = bn.running_var.numpy()
        out["num_batches_tracked"] = bn.num_batches_tracked.numpy().reshape(())
        out["y"] = y.detach().numpy()
        return out
    elif op == "residual_fan_in":
        x, w, v, g, b = t(inp["x"]), t(inp["w"]), t(inp["v"]), t(inp["gamma"]), t(inp["beta"])
        h = F.conv2d(x, w, padding=1)
        s = F.conv2d(h, w, padding=1) + F.conv2d(x, v)
        y = F.relu(F.batch_norm(s, None, None, g, b, training=True, eps=1e-5) + x)
        named = {"dx": x, "dw": w, "dv": v, "dgamma": g, "dbeta": b}
    elif op == "relu":
        x = t(inp["x"])
        y = F.relu(x)
        named = {"dx": x}
    elif op == "sigmoid":
        x = t(inp["x"])
        y = torch.sigmoid(x)
        named = {"dx": x}
    elif op == "max_pool2d":
        x = t(inp["x"])
        y = F.max_pool2d(x, p["kernel"], p["stride"], p["pad"])
        named = {"dx": x}
    elif op == "global_avg_pool":
        x = t(inp["x"])
        y = F.adaptive_avg_pool2d(x, 1).flatten(1)
        named = {"dx": x}
    elif op == "linear":
        x, w, b = t(inp["x"]), t(inp["w"]), t(inp["b"])
        y = F.linear(x, w, b)
        named = {"dx": x, "dw": w, "db": b}
    elif op == "add":
        a, b = t(inp["a"]), t(inp["b"])
        y = a + b
        named = {"da": a, "db": b}
    elif op == "l2_normalize":
        x = t(inp["x"])
        y = F.normalize(x, dim=1, eps=1e-12)
        named = {"dx": x}
    elif op == "matmul":
        a, b = t(inp["a"]), t(inp["b"])
        y = (a.t() if p["ta"] else a) @ (b.t() if p["tb"] else b)
        named = {"da": a, "db": b}
    else:
        raise ValueError(f"unknown op {op}")
    out["y"] = y.detach().numpy()
    if named:
        y.backward(torch.tensor(inp["dy"], dtype=torch.float64))
        for key, var in named.items():
            out[key] = var.grad.numpy()
    return out


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    for case in manifest:
        inp, _ = safetensors_np.load(case["input"])
        out = run_case(case["op"], case.get("params", {}), inp)
        safetensors_np.save(case["output"], {k: (v.astype("float32") if v.dtype.kind == "f" else v)
                                             for k, v in out.items()})


if __name__ == "__main__":
    main()
