"""PyTorch reference for the loss kernels: values and gradients in float64, built from the paper's definitions.

usage: losses_ref.py MANIFEST.json
The manifest lists cases {name, kind, params, input, output}.

kind "metric" (BDL / SBDL, Eq. 3-8): input emb (N, D), logits (N, K), labels (N) I64; params alpha, beta,
  sampling (batch | image), loss (sbdl | bdl), sgs_grad. Output:
    pairs (3, P) I32       this script's own pair list (rows i, j, positive)
    S, G (N, N)            cosine similarities of the embeddings / of the attribute probabilities (G only for sbdl)
    terms (3)              L, L_pos, L_neg
    dS, dG (N, N)          dL/dS, dL/dG (dG only for sbdl with sgs_grad)
  (The chain on to the embeddings and logits is checked on the engine's tape by objective_ref.py.)
kind "bce" (Eq. 2): input logits (N, K), targets (N, K); params scale. Output value (1) = BCEWithLogitsLoss (mean)
  and dlogits = d(scale * value)/d(logits).
Floats are written as float32.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def t64(a, grad=True):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def pairs_of(labels, sampling):
    """Independent of the engine's pair builder: triu for batch-wise, triplets for image-wise."""
    n = len(labels)
    if sampling == "batch":
        ii, jj = torch.triu_indices(n, n, offset=1)
        pos = torch.tensor([bool(labels[a] == labels[b]) for a, b in zip(ii.tolist(), jj.tolist())],
                           dtype=torch.bool)
        return ii, jj, pos
    assert n % 3 == 0
    a = torch.arange(0, n, 3)
    ii, jj = torch.cat([a, a]), torch.cat([a + 1, a + 2])
    pos = torch.cat([torch.ones(len(a), dtype=torch.bool), torch.zeros(len(a), dtype=torch.bool)])
    return ii, jj, pos


def softplus(z):
    # log(1 + e^z) written out (the definition in Eq. 7-8), in the overflow-free form; float64 throughout.
    return torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))


def mean_or_zero(x):
    return x.mean() if x.numel() else x.sum()


def metric_case(p, inp):
    emb, logits = t64(inp["emb"]), t64(inp["logits"])
    labels = inp["labels"].tolist()
    e = emb / emb.norm(dim=1, keepdim=True)           # Eq. 4
    S = e @ e.t()
    S.retain_grad()
    soft = p["loss"] == "sbdl"
    out = {}
    ii, jj, pos = pairs_of(labels, p["sampling"])
    if soft:
        prob = torch.sigmoid(logits)
        pn = prob / prob.norm(dim=1, keepdim=True)     # Eq. 5
        G = pn @ pn.t()
        if p["sgs_grad"]:
            G.retain_grad()
        else:
            G = G.detach()
        g = G[ii, jj]
        out["G"] = G.detach().numpy()
    else:
        g = torch.zeros(len(ii), dtype=torch.float64)
    s = S[ii, jj]
    alpha, beta = p["alpha"], p["beta"]
    l_pos = mean_or_zero(softplus(-alpha * (s[pos] + g[pos] - beta)))   # Eq. 7
    l_neg = mean_or_zero(softplus(alpha * (s[~pos] - g[~pos] - beta)))  # Eq. 8
    loss = l_pos + l_neg                                                 # Eq. 6
    loss.backward()
    out["pairs"] = torch.stack([ii, jj, pos.long()]).to(torch.int32).numpy()
    out["S"] = S.detach().numpy()
    out["terms"] = torch.stack([loss, l_pos, l_neg]).detach().numpy()
    out["dS"] = S.grad.numpy()
    if soft and p["sgs_grad"]:
        out["dG"] = G.grad.numpy()
    return out


def bce_case(p, inp):
    x = t64(inp["logits"])
    t = torch.tensor(inp["targets"], dtype=torch.float64)
    value = torch.nn.BCEWithLogitsLoss()(x, t)
    (p["scale"] * value).backward()
    return {"value": value.detach().reshape(1).numpy(), "dlogits": x.grad.numpy()}


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    for case in manifest:
        inp, _ = safetensors_np.load(case["input"])
        run = {"metric": metric_case, "bce": bce_case}[case["kind"]]
        out = run(case.get("params", {}), inp)
        safetensors_np.save(case["output"], {k: (v.astype("float32") if v.dtype.kind == "f" else v)
                                             for k, v in out.items()})


if __name__ == "__main__":
    main()
