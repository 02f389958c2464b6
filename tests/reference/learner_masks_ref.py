"""Reference for Divide & Conquer's learned masks (the authors' TPAMI follow-up; layers/embedding_slices.h
masked_learner_embedding, losses/mask_orthogonality.h), in float64 with torch autograd, written as the authors'
public code writes them: learner k's embedding F.normalize(emb * F.relu(masks[k])), and the regulariser
lambda * sum over i != j of nn.CosineSimilarity(dim=0, eps=1e-8)(relu(m_i), relu(m_j)) / (K (K - 1)) (0 for K = 1).

usage: learner_masks_ref.py MANIFEST.json
Each manifest case {name, input, output, learner, lambda} names a safetensors input with emb (N,d), masks (K,d) and
seed (N,d); the output holds en (N,d), and the gradients of sum(en * seed): d_emb (N,d), d_masks (K,d); and the
regulariser's value orth (1) and gradient d_masks_orth (K,d).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def orthogonality(masks, lam):
    cos = torch.nn.CosineSimilarity(dim=0, eps=1e-8)
    k = masks.shape[0]
    s = masks.new_zeros(())
    for i in range(k):
        for j in range(k):
            if i != j:
                s = s + cos(F.relu(masks[i]), F.relu(masks[j]))
    if k > 1:
        s = s / (k * (k - 1))
    return s * lam


def main():
    with open(sys.argv[1]) as fh:
        manifest = json.load(fh)
    for case in manifest:
        inp, _ = safetensors_np.load(case["input"])
        emb = torch.tensor(inp["emb"], dtype=torch.float64, requires_grad=True)
        masks = torch.tensor(inp["masks"], dtype=torch.float64, requires_grad=True)
        seed = torch.tensor(inp["seed"], dtype=torch.float64)
        en = F.normalize(emb * F.relu(masks[case["learner"]]), p=2, dim=1)
        (en * seed).sum().backward()
        out = {"en": en.detach().numpy(), "d_emb": emb.grad.numpy().copy(), "d_masks": masks.grad.numpy().copy()}
        masks.grad = None
        orth = orthogonality(masks, case["lambda"])
        out["orth"] = np.array([orth.item()])
        if orth.requires_grad:
            orth.backward()
            out["d_masks_orth"] = masks.grad.numpy()
        else:  # K = 1: the term is the constant 0
            out["d_masks_orth"] = np.zeros(masks.shape)
        safetensors_np.save(case["output"], {k: np.asarray(v, dtype=np.float32) for k, v in out.items()})


if __name__ == "__main__":
    main()
