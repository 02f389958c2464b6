"""Reference for the SGML objective on the tape: value and gradients w.r.t. the raw embeddings and attribute logits.

usage: objective_ref.py MANIFEST.json   (cases {input, output, mode, sampling, alpha, beta, lambda, sgs_grad})
input: emb (N,D), logits (N,K), targets (N,K), labels (N) as float; output: loss, metric, bce, demb, dlogits, and
dclass_beta for a margin case with learned boundaries (manifest key class_beta, one per class), and dmasks for a
case with Divide & Conquer's learned masks (manifest keys masks, row-major (K, D), mask_lambda, active_learners).
The objective itself is the one of the independent training reference (sgml_reference.losses), so the op-level and
the step-level checks test the engine against one PyTorch formulation of Eq. 1-8.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
sys.path.insert(0, os.path.dirname(__file__))
import safetensors_np  # noqa: E402
from sgml_reference import losses  # noqa: E402


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for c in cases:
        t, _ = safetensors_np.load(c["input"])
        emb = torch.tensor(t["emb"], dtype=torch.float64, requires_grad=True)
        logits = torch.tensor(t["logits"], dtype=torch.float64, requires_grad=True)
        targets = torch.tensor(t["targets"], dtype=torch.float64)
        labels = torch.tensor(t["labels"]).long().tolist()
        class_beta = None
        if c.get("class_beta"):  # learned margin boundaries, one per class
            class_beta = torch.tensor(c["class_beta"], dtype=torch.float64, requires_grad=True)
        masks = None
        if c.get("masks"):  # D&C's learned masks (K, d), row-major
            masks = torch.tensor(c["masks"], dtype=torch.float64).reshape(-1, emb.shape[1]).requires_grad_(True)
        total, metric, bce = losses(emb, logits, targets, labels,
                                    dict(c, loss=c["mode"], class_beta=class_beta, masks=masks))
        total.backward()
        out = {"loss": total.detach().reshape(1), "metric": metric.detach().reshape(1), "bce": bce.detach().reshape(1),
               "demb": emb.grad if emb.grad is not None else torch.zeros_like(emb),
               "dlogits": logits.grad if logits.grad is not None else torch.zeros_like(logits)}
        if class_beta is not None:
            out["dclass_beta"] = class_beta.grad
        if masks is not None:
            out["dmasks"] = masks.grad if masks.grad is not None else torch.zeros_like(masks)
        safetensors_np.save(c["output"], {k: v.numpy().astype("float32") for k, v in out.items()})


if __name__ == "__main__":
    main()
