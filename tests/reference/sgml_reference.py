"""An independent PyTorch implementation of SGML training (paper Sec. III, Eq. 1-8), for step-by-step parity.

It shares no code with the engine: its own In-shop list reader, PIL decoding, torchvision ResNet, torch losses and
torch.optim.Adam.

usage:
  sgml_reference.py make-data DIR            a small In-shop-layout dataset of 64x64 PNGs (lossless, so both sides
                                             decode identical pixels)
  sgml_reference.py make-init ARCH K OUT [HEAD]   every parameter and buffer of ARCH + the head (sgml: SGML's
                                             fc/emb/attr with K attributes; linear: Divide & Conquer's one layer),
                                             seeded, as safetensors
  sgml_reference.py make-plan DIR MODE STEPS OUT    a batch plan (batch-wise: 4 items x 2 images; image-wise: 3 triplets)
  sgml_reference.py train DATA INIT PLAN CONFIG.json OUT_DIR
        runs the steps; writes OUT_DIR/metrics.jsonl, OUT_DIR/final.safetensors and OUT_DIR/adam.safetensors (Adam's
        moments exp_avg and exp_avg_sq of each parameter as adam_m.NAME and adam_v.NAME)
"""
import json
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


# ---------------------------------------------------------------- data
def make_data(root, items=8, views=3, test_items=3, attributes=5, size=64, seed=7):
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "Eval"), exist_ok=True)
    os.makedirs(os.path.join(root, "Anno"), exist_ok=True)
    rows, bbox, item_attrs = [], [], {}
    for it in range(items + test_items):
        item = f"id_{it + 1:08d}"
        folder = os.path.join("img", "WOMEN", "Dresses", item)
        os.makedirs(os.path.join(root, "Img", folder), exist_ok=True)
        base = rng.uniform(0, 255, size=(3,))
        item_attrs[item] = rng.choice([1, -1, 0], size=attributes)
        for v in range(views):
            name = f"{folder}/{v + 1:02d}_{v + 1}_front.png"
            img = np.clip(base + rng.normal(0, 60, size=(size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(os.path.join(root, "Img", name))
            if it < items:
                status = "train"
            else:
                status = "query" if v == 0 else "gallery"
            rows.append((name, item, status))
            bbox.append(name)
    with open(os.path.join(root, "Eval", "list_eval_partition.txt"), "w") as f:
        f.write(f"{len(rows)}\nimage_name item_id evaluation_status\n")
        for name, item, status in rows:
            f.write(f"{name}      {item} {status}\n")
    with open(os.path.join(root, "Anno", "list_attr_cloth.txt"), "w") as f:
        f.write(f"{attributes}\nattribute_name attribute_type\n")
        for a in range(attributes):
            f.write(f"attribute {a}    1\n")
    with open(os.path.join(root, "Anno", "list_attr_items.txt"), "w") as f:
        f.write(f"{len(item_attrs)}\nitem_id attribute_values\n")
        for item, values in item_attrs.items():
            f.write(item + " " + " ".join(str(int(x)) for x in values) + "\n")
    with open(os.path.join(root, "Anno", "list_bbox_inshop.txt"), "w") as f:
        f.write(f"{len(bbox)}\nimage_name clothes_type pose_type x_1 y_1 x_2 y_2\n")
        for name in bbox:
            f.write(f"{name}  1  1  000  000  {size - 1:03d}  {size - 1:03d}\n")
    with open(os.path.join(root, "Anno", "list_item_inshop.txt"), "w") as f:
        f.write(f"{len(item_attrs)}\n" + "\n".join(item_attrs) + "\n")


def read_train(root):
    """The training images in file order: (path, item id), and each item's attribute vector (1 -> 1, else 0)."""
    train = []
    with open(os.path.join(root, "Eval", "list_eval_partition.txt")) as f:
        lines = f.read().split("\n")[2:]
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[2] == "train":
            train.append((parts[0], parts[1]))
    attrs = {}
    with open(os.path.join(root, "Anno", "list_attr_items.txt")) as f:
        for line in f.read().split("\n")[2:]:
            parts = line.split()
            if parts:
                attrs[parts[0]] = np.array([1.0 if int(v) == 1 else 0.0 for v in parts[1:]], np.float32)
    return train, attrs


def load_images(root, paths, size):
    batch = []
    for p in paths:
        img = Image.open(os.path.join(root, "Img", p)).convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        batch.append(torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1))
    return (torch.stack(batch) - MEAN) / STD


# ---------------------------------------------------------------- model
class SgmlNet(torch.nn.Module):
    """head "sgml": fc 1024 + ReLU, then emb (512) and attr (k); head "linear": emb (512) on the pooled feature."""

    def __init__(self, arch, k, head="sgml"):
        super().__init__()
        backbone = getattr(torchvision.models, arch)()
        feat = backbone.fc.in_features
        backbone.fc = torch.nn.Identity()
        self.backbone = backbone
        self.head = torch.nn.Module()
        self.linear = head == "linear"
        if self.linear:
            self.head.emb = torch.nn.Linear(feat, 512)
        else:
            self.head.fc = torch.nn.Linear(feat, 1024)
            self.head.emb = torch.nn.Linear(1024, 512)
            self.head.attr = torch.nn.Linear(1024, k)

    def forward(self, x):
        if self.linear:
            return self.head.emb(self.backbone(x)), None
        h = F.relu(self.head.fc(self.backbone(x)))
        return self.head.emb(h), self.head.attr(h)

    def named_state(self):
        """state_dict with torchvision names (no 'backbone.' prefix) plus head.*"""
        return {k.replace("backbone.", "", 1): v for k, v in self.state_dict().items()}

    def load_named_state(self, tensors):
        own = self.state_dict()
        for k in own:
            name = k.replace("backbone.", "", 1)
            own[k].copy_(torch.from_numpy(np.asarray(tensors[name])).to(own[k].dtype).reshape(own[k].shape))


def make_init(arch, k, out, head="sgml"):
    torch.manual_seed(99)
    net = SgmlNet(arch, k, head)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.2)
    safetensors_np.save(out, {k: v.numpy() for k, v in net.named_state().items()})


def make_plan(root, mode, steps, out, seed=3):
    train, _ = read_train(root)
    by_item = {}
    for i, (_, item) in enumerate(train):
        by_item.setdefault(item, []).append(i)
    items = sorted(by_item)
    rng = random.Random(seed)
    lines = []
    for _ in range(steps):
        if mode == "batch":
            batch = []
            for item in rng.sample(items, 4):
                batch += rng.sample(by_item[item], 2)
        else:
            batch = []
            for _ in range(3):
                a_item, n_item = rng.sample(items, 2)
                a, p = rng.sample(by_item[a_item], 2)
                batch += [a, p, rng.choice(by_item[n_item])]
        lines.append(" ".join(map(str, batch)))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- loss
def pairs_of(labels, sampling):
    n = len(labels)
    if sampling == "batch":
        ii, jj = torch.triu_indices(n, n, offset=1)
        pos = torch.tensor([labels[a] == labels[b] for a, b in zip(ii.tolist(), jj.tolist())])
        return ii, jj, pos
    a = torch.arange(0, n, 3)
    ii = torch.cat([a, a])
    jj = torch.cat([a + 1, a + 2])
    pos = torch.cat([torch.ones(len(a), dtype=torch.bool), torch.zeros(len(a), dtype=torch.bool)])
    return ii, jj, pos


def learner_slices(d, k):
    """Divide & Conquer's learner columns: [i c, min((i + 1) c, d)) with c = ceil(d / k)."""
    c = -(-d // k)
    return [(i * c, min((i + 1) * c, d)) for i in range(k)]


def losses(emb, logits, targets, labels, cfg):
    """The objective (total, metric, bce); with D&C's learned masks (cfg masks, (K, d), and learner >= 0) the masks'
    orthogonality term over the first active_learners masks, weighted by mask_lambda, is added to the total."""
    total, metric, bce = objective_terms(emb, logits, targets, labels, cfg)
    masks = cfg.get("masks")
    if masks is not None and cfg.get("learner", -1) >= 0:
        from learner_masks_ref import orthogonality
        active = cfg.get("active_learners") or masks.shape[0]
        total = total + orthogonality(masks[:active], cfg["mask_lambda"])
    return total, metric, bce


def objective_terms(emb, logits, targets, labels, cfg):
    k, learner = cfg.get("learners", 1), cfg.get("learner", -1)
    masks = cfg.get("masks")
    if masks is not None:  # learned masks: learner k weights every dimension by relu(mask k); -1: no mask
        e = F.normalize(emb * F.relu(masks[learner]), dim=1) if learner >= 0 else F.normalize(emb, dim=1)
    elif k > 1 and learner >= 0:  # one learner's slice, normalised
        b, e_ = learner_slices(emb.shape[1], k)[learner]
        e = F.normalize(emb[:, b:e_], dim=1)
    elif k > 1:  # the concatenation of the normalised slices, as a unit vector
        e = torch.cat([F.normalize(emb[:, b:e_], dim=1) for b, e_ in learner_slices(emb.shape[1], k)], 1) / k ** 0.5
    else:
        e = F.normalize(emb, dim=1)
    s = e @ e.t()
    if logits is None:  # the linear head: no attribute branch, only the losses without attributes
        assert cfg["loss"] in ("metric", "rank", "margin")
        logits = torch.zeros_like(targets)
    p = F.normalize(torch.sigmoid(logits), dim=1)
    g = p @ p.t()
    if not cfg["sgs_grad"]:
        g = g.detach()
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    if cfg.get("head", "sgml") == "linear":
        bce = torch.zeros((), dtype=emb.dtype)  # no attribute branch: no term (and no bce_loss in the log)
    lam = cfg["lambda"]
    if cfg["loss"] in ("rank", "rank-multitask"):
        # Our reconstruction of the rank-approximation loss (losses/rank_loss.h), batch-wise only.
        from rank_loss_ref import rank_approximation_loss
        assert cfg["sampling"] == "batch"
        metric, _, _ = rank_approximation_loss(s, list(labels), cfg["rank_tau"], cfg["rank_rho"])
        total = metric if cfg["loss"] == "rank" else metric + lam * bce
        return total, metric, bce
    if cfg["loss"] == "margin":
        # The margin loss of Wu et al. 2017 with its negative samplers (losses/margin_loss.h), batch-wise only.
        from margin_loss_ref import margin_loss, triplet_anchors_positives, uniform_draws
        assert cfg["sampling"] == "batch"
        triplets = len(triplet_anchors_positives(list(labels)))
        draws = uniform_draws(cfg["draw_seed"], triplets) if cfg["sampler"] != "nearest" else []
        if cfg.get("class_beta") is not None:  # --learn-beta: each anchor's class's boundary, a leaf tensor
            beta = cfg["class_beta"][torch.tensor(list(labels))]
        else:
            beta = torch.full((len(labels),), cfg["margin_beta"], dtype=s.dtype)
        metric, _, _, count = margin_loss(s, list(labels), beta, cfg["margin"], e.shape[1], cfg["sampler"], draws)[:4]
        nu = cfg.get("beta_nu", 0.0)
        if cfg.get("class_beta") is not None and nu > 0 and count > 0:
            # Wu et al.'s L1 penalty on the learned boundaries: the anchor's boundary of every triplet.
            anchors = torch.tensor([i for i, _ in triplet_anchors_positives(list(labels))])
            metric = metric + nu * beta[anchors].abs().sum() / count
        return metric, metric, bce
    ii, jj, pos = pairs_of(labels, cfg["sampling"])
    sp, gp = s[ii, jj], g[ii, jj]
    alpha, beta = cfg["alpha"], cfg["beta"]
    use_g = cfg["loss"] == "sgml"
    gterm = gp if use_g else torch.zeros_like(gp)

    def mean_or_zero(x):
        return x.mean() if x.numel() else x.sum()

    l_pos = mean_or_zero(F.softplus(-alpha * (sp[pos] + gterm[pos] - beta)))
    l_neg = mean_or_zero(F.softplus(alpha * (sp[~pos] - gterm[~pos] - beta)))
    metric = l_pos + l_neg
    total = {"sgml": metric + lam * bce, "multitask": metric + lam * bce, "metric": metric, "attribute": bce}[cfg["loss"]]
    # A branch the loss does not use (head.attr under metric, head.emb under attribute) gets no .grad, and
    # torch.optim.Adam skips it: no weight decay, no moments. The engine must do the same.
    return total, metric, bce


def train(data, init, plan, config_path, out_dir):
    with open(config_path) as f:
        cfg = json.load(f)
    torch.manual_seed(0)
    train_list, attrs = read_train(data)
    items = sorted({item for _, item in train_list})
    label_of = {item: i for i, item in enumerate(items)}
    tensors, _ = safetensors_np.load(init)
    head = cfg.get("head", "sgml")
    k = tensors["head.attr.weight"].shape[0] if head == "sgml" else 0
    net = SgmlNet(cfg["model"], k, head)
    net.load_named_state(tensors)
    net.train()
    if cfg.get("frozen_bn", False):  # every BatchNorm2d in eval mode: running statistics, none updated
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
    groups = [{"params": list(net.parameters())}]
    class_beta = None
    if cfg.get("learn_beta", False):
        # --learn-beta: one boundary per training class, in its own group at beta_lr without weight decay (the D&C
        # authors' optimiser).
        class_beta = torch.nn.Parameter(torch.full((len(items),), float(cfg["margin_beta"])))
        groups.append({"params": [class_beta], "lr": cfg["beta_lr"], "weight_decay": 0.0})
    opt = torch.optim.Adam(groups, lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8,
                           weight_decay=cfg.get("weight_decay", 0.0))
    with open(plan) as f:
        steps = [list(map(int, line.split())) for line in f if line.strip()]
    steps = steps[: cfg["steps"]]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "metrics.jsonl"), "w") as log:
        for step, idx in enumerate(steps, 1):
            images = load_images(data, [train_list[i][0] for i in idx], cfg["image_size"])
            labels = [label_of[train_list[i][1]] for i in idx]
            targets = torch.from_numpy(np.stack([attrs[train_list[i][1]] for i in idx]))
            emb, logits = net(images)
            # The engine's distance-sampler draws of this step (train_step: seed * golden + step, modulo 2^64).
            cfg["draw_seed"] = (cfg.get("seed", 0) * 0x9E3779B97F4A7C15 + step) & ((1 << 64) - 1)
            cfg["class_beta"] = class_beta
            total, metric, bce = losses(emb, logits, targets, labels, cfg)
            opt.zero_grad()
            total.backward()
            opt.step()
            record = {"step": step, "loss": total.item(), "metric_loss": metric.item(), "lr": cfg["lr"]}
            if cfg.get("head", "sgml") != "linear":
                record["bce_loss"] = bce.item()
            log.write(json.dumps(record) + "\n")
    state = {k: v.detach().numpy() for k, v in net.named_state().items()}
    if class_beta is not None:
        state["loss.margin_beta"] = class_beta.detach().numpy()
    safetensors_np.save(os.path.join(out_dir, "final.safetensors"), state)
    # Adam's moments, by the engine's names: they scale with the gradients, which the updates (m / sqrt(v)) hardly do.
    moments = {}
    for name, p in net.named_parameters():
        name = name.replace("backbone.", "", 1)
        # A parameter Adam skipped every step has no state: its moments never left 0.
        state = opt.state.get(p, {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)})
        moments["adam_m." + name] = state["exp_avg"].detach().numpy()
        moments["adam_v." + name] = state["exp_avg_sq"].detach().numpy()
    if class_beta is not None:
        moments["adam_m.loss.margin_beta"] = opt.state[class_beta]["exp_avg"].numpy()
        moments["adam_v.loss.margin_beta"] = opt.state[class_beta]["exp_avg_sq"].numpy()
    safetensors_np.save(os.path.join(out_dir, "adam.safetensors"), moments)


def main():
    cmd = sys.argv[1]
    if cmd == "make-data":
        make_data(sys.argv[2])
    elif cmd == "make-init":
        make_init(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:6])
    elif cmd == "make-plan":
        make_plan(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif cmd == "train":
        train(*sys.argv[2:7])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
