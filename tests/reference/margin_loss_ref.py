"""PyTorch reference for the margin loss of Wu et al. 2017 and its two negative samplers (losses/margin_loss.h),
float64 autograd.

Written from the formulas, not from the engine's code: the distance matrix, the sampling weights with torch's own
log/exp and normalisation, the inverse-CDF draw with torch.cumsum, the nearest order with a stable sort, and the
gradient by autograd (the engine's is derived by hand).

    D_ij = sqrt(max(2 - 2 S_ij, 0) + 1e-6)
    triplets: each anchor i, each positive p != i in index order, one negative per triplet
    distance sampler: w_ik ~ d^(2-n) (max(1 - d^2/4, 1e-8))^(-(n-3)/2), d = max(D_ik, 0.5), over negatives with
                      D_ik < beta_i + m (none: uniform over negatives), each at least 1e-30 of the row's largest;
                      draw = first k with cumsum_k > u * sum
    distance-distinct: the same, but anchor i's draws in triplet order exclude the negatives it drew before (all
                      put back once every one with weight > 0 is drawn)
    nearest sampler:  negatives sorted by (D < 0.5, D, index); the j-th triplet of i takes the (j mod count)-th
    L = (sum relu(D_ip - beta_i + m) + sum relu(beta_i - D_in + m)) / #(non-zero terms)   (0 if none)

usage: margin_loss_ref.py MANIFEST.json
The manifest lists cases {name, input, output, margin, dim, sampler, draw_seed}; input S (B, B) F32, labels (B)
I64, beta (B) F32, uniforms (T) F32 (distance sampler). Output: terms (4) = L, L_pos, L_neg, count; dS (B, B);
dbeta (B); W (B, B) the distance sampler's weights; draws (T), uniform_draws(draw_seed, T) for comparison with the
engine's generator; negatives (T) I64; and fragile (T) F32, the distance in units of the row's total weight from
u * sum to the nearest cumulative boundary (a draw that close may flip between float32 and float64).
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def uniform_draws(seed, count):
    """The engine's uniform draws (margin_uniform_draws): splitmix64 of seed + golden * (t + 1), top 24 bits."""
    mask = (1 << 64) - 1
    out = []
    for t in range(count):
        z = (seed + 0x9E3779B97F4A7C15 * (t + 1)) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append((z >> 40) / 16777216.0)
    return out


def distances(S):
    return torch.sqrt(torch.clamp(2.0 - 2.0 * S, min=0.0) + 1e-6)


def triplet_anchors_positives(labels):
    n = len(labels)
    return [(i, p) for i in range(n) for p in range(n) if p != i and labels[p] == labels[i]]


def sampling_weights(D, labels, beta, margin, dim):
    n = D.shape[0]
    lab = torch.tensor(labels)
    negative = lab.unsqueeze(0) != lab.unsqueeze(1)
    d = torch.clamp(D, min=0.5)
    log_w = (2.0 - dim) * torch.log(d) - 0.5 * (dim - 3.0) * torch.log(torch.clamp(1.0 - 0.25 * d * d, min=1e-8))
    W = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        cand = negative[i] & (D[i] < beta[i] + margin)
        if cand.any():
            # Each candidate weighs at least 1e-30 of the largest (the engine's floor: float32's exp is 0 below
            # about 1e-45, and a candidate of weight 0 could never be drawn without replacement).
            relative = torch.clamp(torch.exp(log_w[i] - log_w[i][cand].max()), min=1e-30)
            row = torch.where(cand, relative, torch.zeros(n, dtype=torch.float64))
        else:
            row = negative[i].double()
        if row.sum() > 0:
            W[i] = row / row.sum()
    return W


def draw(W_row, u):
    cdf = torch.cumsum(W_row, 0)
    target = u * cdf[-1]
    live = torch.nonzero(W_row > 0).flatten()
    pick = int(live[-1])
    for k in live.tolist():
        if cdf[k] > target:
            pick = k
            break
    gap = float(torch.min(torch.abs(cdf[live] - target)) / cdf[-1])
    return pick, gap


def nearest_order(D_row, labels, i):
    negs = [k for k in range(len(labels)) if labels[k] != labels[i]]
    return sorted(negs, key=lambda k: (float(D_row[k]) < 0.5, float(D_row[k]), k))


def margin_loss(S, labels, beta, margin, dim, sampler, uniforms):
    D = distances(S)
    with torch.no_grad():
        W = sampling_weights(D.detach(), labels, beta.detach(), margin, dim)
    triplets = triplet_anchors_positives(labels)
    negatives, fragile = [], []
    counters = {}
    drawn = {}  # distance-distinct: anchor -> negatives drawn so far, and the smallest gap of its draws so far
    for t, (i, p) in enumerate(triplets):
        if sampler in ("distance", "distance-distinct"):
            if W[i].sum() == 0:
                negatives.append(-1)
                fragile.append(1.0)
            elif sampler == "distance":
                k, gap = draw(W[i], float(uniforms[t]))
                negatives.append(k)
                fragile.append(gap)
            else:
                taken, earlier_gap = drawn.get(i, (set(), 1.0))
                row = W[i].clone()
                row[list(taken)] = 0.0
                if row.sum() == 0:  # every candidate drawn: all put back
                    taken, row = set(), W[i].clone()
                k, gap = draw(row, float(uniforms[t]))
                taken.add(k)
                # a draw that may flip changes what the anchor's later draws can take: they are as fragile
                gap = min(gap, earlier_gap)
                drawn[i] = (taken, gap)
                negatives.append(k)
                fragile.append(gap)
        else:
            order = nearest_order(D.detach()[i], labels, i)
            j = counters.get(i, 0)
            counters[i] = j + 1
            negatives.append(order[j % len(order)] if order else -1)
            fragile.append(1.0)
    pos_terms, neg_terms = [], []
    for (i, p), k in zip(triplets, negatives):
        pos_terms.append(torch.relu(D[i, p] - beta[i] + margin))
        if k >= 0:
            neg_terms.append(torch.relu(beta[i] - D[i, k] + margin))
    zero = S.sum() * 0.0 + beta.sum() * 0.0
    l_pos = torch.stack(pos_terms).sum() if pos_terms else zero
    l_neg = torch.stack(neg_terms).sum() if neg_terms else zero
    count = sum(float(x > 0) for x in pos_terms + neg_terms)
    if count > 0:
        l_pos, l_neg = l_pos / count, l_neg / count
    return l_pos + l_neg, l_pos, l_neg, count, W, negatives, fragile


def main():
    with open(sys.argv[1]) as fh:
        manifest = json.load(fh)
    for case in manifest:
        inp, _ = safetensors_np.load(case["input"])
        S = torch.tensor(inp["S"], dtype=torch.float64, requires_grad=True)
        beta = torch.tensor(inp["beta"], dtype=torch.float64, requires_grad=True)
        uniforms = inp["uniforms"].tolist() if "uniforms" in inp else []
        loss, l_pos, l_neg, count, W, negatives, fragile = margin_loss(
            S, inp["labels"].tolist(), beta, case["margin"], case["dim"], case["sampler"], uniforms)
        loss.backward()
        zeros = torch.zeros_like
        out = {"terms": np.array([loss.item(), l_pos.item(), l_neg.item(), count], dtype=np.float32),
               "dS": (S.grad if S.grad is not None else zeros(S)).numpy().astype(np.float32),
               "dbeta": (beta.grad if beta.grad is not None else zeros(beta)).numpy().astype(np.float32),
               "W": W.numpy().astype(np.float32),
               }
        if negatives:  # (a batch without triplets writes neither: a tensor has at least one element here)
            out["draws"] = np.array(uniform_draws(case["draw_seed"], len(negatives)), dtype=np.float32)
            out["negatives"] = np.array(negatives, dtype=np.int64)
            out["fragile"] = np.array(fragile, dtype=np.float32)
        safetensors_np.save(case["output"], out)


if __name__ == "__main__":
    main()
