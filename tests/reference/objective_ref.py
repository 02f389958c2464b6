"""Reference for the SGML objective on the tape: value and gradients w.r.t. the raw embeddings and attribute logits.

usage: objective_ref.py MANIFEST.json   (cases {input, output, mode, sampling, alpha, beta, lambda, sgs_grad})
input: emb (N,D), logits (N,K), targets (N,K), labels (N) as float; output: loss, metric, bce, demb, dlogits.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def objective(emb, logits, targets, labels, c):
    e = F.normalize(emb, dim=1)
    s = e @ e.t()
    p = F.normalize(torch.sigmoid(logits), dim=1)
    g = p @ p.t()
    if not c["sgs_grad"]:
        g = g.detach()
    n = len(labels)
    if c["sampling"] == "batch":
        ii, jj = torch.triu_indices(n, n, offset=1)
        pos = labels[ii] == labels[jj]
    else:
        a = torch.arange(0, n, 3)
        ii, jj = torch.cat([a, a]), torch.cat([a + 1, a + 2])
        pos = torch.cat([torch.ones(len(a), dtype=torch.bool), torch.zeros(len(a), dtype=torch.bool)])
    gp = g[ii, jj] if c["mode"] == "sgml" else torch.zeros(len(ii), dtype=s.dtype)
    sp = s[ii, jj]
    a_, b_ = c["alpha"], c["beta"]
    lp = F.softplus(-a_ * (sp[pos] + gp[pos] - b_))
    ln = F.softplus(a_ * (sp[~pos] - gp[~pos] - b_))
    metric = (lp.mean() if lp.numel() else lp.sum()) + (ln.mean() if ln.numel() else ln.sum())
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    lam = c["lambda"]
    total = {"sgml": metric + lam * bce, "multitask": metric + lam * bce, "metric": metric, "attribute": bce}[c["mode"]]
    return total, metric, bce


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for c in cases:
        t, _ = safetensors_np.load(c["input"])
        emb = torch.tensor(t["emb"], dtype=torch.float64, requires_grad=True)
        logits = torch.tensor(t["logits"], dtype=torch.float64, requires_grad=True)
        targets = torch.tensor(t["targets"], dtype=torch.float64)
        labels = torch.tensor(t["labels"]).long()
        total, metric, bce = objective(emb, logits, targets, labels, c)
        total.backward()
        out = {"loss": total.detach().reshape(1), "metric": metric.detach().reshape(1), "bce": bce.detach().reshape(1),
               "demb": emb.grad if emb.grad is not None else torch.zeros_like(emb),
               "dlogits": logits.grad if logits.grad is not None else torch.zeros_like(logits)}
        safetensors_np.save(c["output"], {k: v.numpy().astype("float32") for k, v in out.items()})


if __name__ == "__main__":
    main()
