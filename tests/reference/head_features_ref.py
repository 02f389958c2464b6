"""Reference for the evaluation features of the heads (models/sgml_model.h extract()): a seeded torchvision
ResNet-18 (random weights, non-trivial BN statistics) with
  - SGML's head: fc (F -> FC_DIM) + ReLU, emb (FC_DIM -> EMB_DIM), attr (FC_DIM -> ATTRS); features `fc` (after the
    ReLU) and `emb`;
  - Divide & Conquer's linear head: emb (F -> D) on the pooled feature, with K learners; the evaluation feature is
    the concatenation of the K L2-normalised slices, learner k owning [k c, min((k + 1) c, D)) with c = ceil(D / K).
Eval mode, float64, from the float32 weights written for the engine (so both sides hold the same numbers).

usage: head_features_ref.py OUT_DIR SIZE COUNT FC_DIM EMB_DIM ATTRS D K
writes OUT_DIR/sgml_head.safetensors and OUT_DIR/linear_head.safetensors (torchvision names + head.*, float32),
and OUT_DIR/features.safetensors {images, fc, emb, joined}.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402
from resnet_ref import randomise_batch_norm  # noqa: E402


def seeded_backbone():
    model = randomise_batch_norm(torchvision.models.resnet18())  # eval-mode BN that is not the identity
    model.fc = torch.nn.Identity()
    return model.eval()


def state_of(backbone, head):
    state = {k: v.numpy() for k, v in backbone.state_dict().items()}
    state.update({"head." + k: v.numpy() for k, v in head.state_dict().items()})
    return state


def main():
    out, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fc_dim, emb_dim, attrs, d, k = map(int, sys.argv[4:9])
    torch.manual_seed(2024)
    images = torch.randn(count, 3, size, size)

    backbone = seeded_backbone()
    head = torch.nn.Module()
    head.fc = torch.nn.Linear(512, fc_dim)
    head.emb = torch.nn.Linear(fc_dim, emb_dim)
    head.attr = torch.nn.Linear(fc_dim, attrs)
    safetensors_np.save(os.path.join(out, "sgml_head.safetensors"), state_of(backbone, head))
    with torch.no_grad():
        pooled = backbone.double()(images.double())
        pre = head.fc.double()(pooled)
        fc = F.relu(pre)
        emb = head.emb.double()(fc)
    # The ReLU must matter for the test to see it: a good share of fc's pre-activations are negative.
    assert (pre < 0).double().mean() > 0.2, (pre < 0).double().mean()

    linear_backbone = seeded_backbone()
    linear = torch.nn.Module()
    linear.emb = torch.nn.Linear(512, d)
    safetensors_np.save(os.path.join(out, "linear_head.safetensors"), state_of(linear_backbone, linear))
    with torch.no_grad():
        raw = linear.emb.double()(linear_backbone.double()(images.double()))
    c = math.ceil(d / k)
    joined = torch.cat([F.normalize(raw[:, i * c:min((i + 1) * c, d)], dim=1) for i in range(k)], dim=1)
    # Normalising the whole row instead of each slice must be visible: the slices' norms differ.
    norms = torch.stack([raw[:, i * c:min((i + 1) * c, d)].norm(dim=1) for i in range(k)], dim=1)
    assert (norms.max(dim=1).values / norms.min(dim=1).values).min() > 1.05, norms

    safetensors_np.save(os.path.join(out, "features.safetensors"),
                        {"images": images.numpy(), "fc": fc.float().numpy(), "emb": emb.float().numpy(),
                         "joined": joined.float().numpy()})


if __name__ == "__main__":
    main()
