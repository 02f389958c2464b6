"""PyTorch reference for the rank-approximation loss (our reconstruction, losses/rank_loss.h), float64 autograd.

The formula is written here directly, with the whole (B, B, B) tensor of similarity differences and torch's own
sigmoid, exp and autograd: nothing of the engine's hand-derived gradient or its O(B^2) recomputation is reused.

    r_ij = 1/(B-2) sum_{k != i, j} sigmoid((S_ik - S_ij) / tau)      f_ij = exp(-r_ij / rho)
    L = mean_{i != j, same label} (1 - f_ij)^2  +  mean_{different labels} f_ij^2     (an empty mean is 0; B < 3: 0)

usage: rank_loss_ref.py MANIFEST.json
The manifest lists cases {name, input, output, tau, rho}; input S (B, B) F32 and labels (B) I64; output terms (3)
= L, L_pos, L_neg and dS (B, B) = dL/dS, written as float32. sgml_reference.losses imports rank_approximation_loss
for the whole objective (--loss rank, rank-multitask).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def mean_or_zero(x):
    return x.mean() if x.numel() else x.sum()


def rank_approximation_loss(S, labels, tau, rho):
    """S (B, B) float64 tensor, labels a list of B ints. Returns (L, L_pos, L_neg) as 0-d tensors."""
    n = S.shape[0]
    if n < 3:
        zero = S.sum() * 0.0
        return zero, zero, zero
    lab = torch.tensor(labels)
    eye = torch.eye(n, dtype=torch.bool)
    diff = S.unsqueeze(1) - S.unsqueeze(2)                  # diff[i, j, k] = S[i, k] - S[i, j]
    others = ~(eye.unsqueeze(1) | eye.unsqueeze(0))         # k != i and k != j
    r = (torch.sigmoid(diff / tau) * others).sum(dim=2) / (n - 2)
    f = torch.exp(-r / rho)
    same = lab.unsqueeze(0) == lab.unsqueeze(1)
    pos, neg = same & ~eye, ~same
    l_pos = mean_or_zero((1.0 - f[pos]) ** 2)
    l_neg = mean_or_zero(f[neg] ** 2)
    return l_pos + l_neg, l_pos, l_neg


def main():
    with open(sys.argv[1]) as fh:
        manifest = json.load(fh)
    for case in manifest:
        inp, _ = safetensors_np.load(case["input"])
        S = torch.tensor(inp["S"], dtype=torch.float64, requires_grad=True)
        loss, l_pos, l_neg = rank_approximation_loss(S, inp["labels"].tolist(), case["tau"], case["rho"])
        loss.backward()
        dS = S.grad if S.grad is not None else torch.zeros_like(S)
        out = {"terms": torch.stack([loss, l_pos, l_neg]).detach(), "dS": dS}
        safetensors_np.save(case["output"], {k: v.numpy().astype("float32") for k, v in out.items()})


if __name__ == "__main__":
    main()
