"""PyTorch reference for the optimiser: torch.optim.Adam and the torch.optim.lr_scheduler schedules.

usage: adam_ref.py adam MANIFEST.json
  Cases {name, input, output, params: {lrs, betas, eps, weight_decay[, groups]}}; groups (optional): torch param
  groups [{tensors: [k, ...], lr_scale, weight_decay[, restart_at: [T, ...]]}] (lr = lr_scale x the step's lr), the
  other tensors in the default group; before each step T of restart_at, the group is removed from the optimiser and
  added again with new parameters holding the same values (its state starts from nothing, as Divide & Conquer's
  authors do with their masks at each division). The input holds the initial parameters p0,
  p1, ... (any shapes) and the gradient of parameter k at step t (from 1) as grad.T.K. torch.optim.Adam (single-
  tensor path) takes len(lrs) steps, lr set from lrs before each; written out, each flat (parameters concatenated
  in order k = 0, 1, ...). Tensors listed in params.excluded (optional) get no .grad, so torch skips them; their
  moments, which torch never makes, are written as zeros:
    params.T        float32 run: parameters after step T
    m, v            float32 run: exp_avg and exp_avg_sq after the last step
    delta64.T       float64 run: parameters after step T minus the initial ones (the update, computed in float64)
usage: adam_ref.py lr CASES.json OUT.json
  Cases {name, kind, base_lr, step_size, gamma, total_steps, min_lr, warmup_steps, warmup_start_factor, steps};
  OUT.json gets {name: [lr of step 0, 1, ...]}: LinearLR warm-up for warmup_steps steps, then a fresh StepLR /
  CosineAnnealingLR (T_max = total_steps - warmup_steps) / no scheduler, each stepped once per optimiser step.
"""
import json
import os
import sys

import numpy as np
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, StepLR

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def run_adam(inp, p, dtype):
    count = sum(1 for k in inp if k.startswith("p") and k[1:].isdigit())
    params = [torch.nn.Parameter(torch.tensor(inp[f"p{k}"], dtype=dtype)) for k in range(count)]
    start = torch.cat([x.detach().flatten() for x in params]).clone()
    grouped = [k for g in p.get("groups", []) for k in g["tensors"]]
    groups = [{"params": [x for k, x in enumerate(params) if k not in grouped], "lr_scale": 1.0}]
    for g in p.get("groups", []):
        groups.append({"params": [params[k] for k in g["tensors"]], "lr_scale": g["lr_scale"],
                       "weight_decay": g["weight_decay"]})
    opt = torch.optim.Adam(groups, lr=p["lrs"][0], betas=tuple(p["betas"]), eps=p["eps"],
                           weight_decay=p["weight_decay"], foreach=False)
    out = {}
    for t, lr in enumerate(p["lrs"], 1):
        for g in p.get("groups", []):
            if t in g.get("restart_at", []):
                old = [params[k] for k in g["tensors"]]
                opt.param_groups = [pg for pg in opt.param_groups if not any(x is y for x in pg["params"] for y in old)]
                for k in g["tensors"]:
                    params[k] = torch.nn.Parameter(params[k].detach().clone())
                opt.add_param_group({"params": [params[k] for k in g["tensors"]], "lr_scale": g["lr_scale"],
                                     "weight_decay": g["weight_decay"]})
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_scale"]
        for k, x in enumerate(params):
            x.grad = None if k in p.get("excluded", []) else torch.tensor(inp[f"grad.{t}.{k}"], dtype=dtype)
        opt.step()
        flat = torch.cat([x.detach().flatten() for x in params])
        out[t] = (flat, flat - start)
    def moment(x, key):
        return opt.state[x][key].flatten() if x in opt.state else torch.zeros_like(x).flatten()

    m = torch.cat([moment(x, "exp_avg") for x in params])
    v = torch.cat([moment(x, "exp_avg_sq") for x in params])
    return out, m, v


def adam_cases(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    for case in manifest:
        inp, _ = safetensors_np.load(case["input"])
        p = case["params"]
        out32, m, v = run_adam(inp, p, torch.float32)
        out64, _, _ = run_adam(inp, p, torch.float64)
        res = {"m": m.numpy(), "v": v.numpy()}
        for t in out32:
            res[f"params.{t}"] = out32[t][0].numpy()
            res[f"delta64.{t}"] = out64[t][1].numpy().astype(np.float32)
        safetensors_np.save(case["output"], res)


def schedule(c):
    def fresh():
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=c["base_lr"])

    lrs, w, steps = [], c["warmup_steps"], c["steps"]
    if w > 0:
        opt = fresh()
        sched = LinearLR(opt, start_factor=c["warmup_start_factor"], end_factor=1.0, total_iters=w)
        for _ in range(min(w, steps)):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    opt = fresh()
    if c["kind"] == "step":
        sched = StepLR(opt, step_size=c["step_size"], gamma=c["gamma"])
    elif c["kind"] == "cosine":
        sched = CosineAnnealingLR(opt, T_max=c["total_steps"] - w, eta_min=c["min_lr"])
    else:
        sched = None
    while len(lrs) < steps:
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
    return lrs


def main():
    if sys.argv[1] == "adam":
        adam_cases(sys.argv[2])
    elif sys.argv[1] == "lr":
        with open(sys.argv[2]) as f:
            cases = json.load(f)
        with open(sys.argv[3], "w") as f:
            json.dump({c["name"]: schedule(c) for c in cases}, f)
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]}")


if __name__ == "__main__":
    main()
