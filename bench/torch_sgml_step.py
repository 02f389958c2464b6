"""PyTorch's side of the training-step benchmark: the same SGML step as `./sgml bench train` (torchvision ResNet-101,
the SGML head, SBDL + lambda*BCE over all pairs of a 41 x 4 batch, Adam) on random data, timed with CUDA events.
With --what eval, the same model's embedding in eval mode under inference_mode (`./sgml bench eval`, batch 256).
On the CPU (--device cpu, --threads N) steps are timed with the wall clock and memory is the process's peak RSS.

usage: python3 bench/torch_sgml_step.py [--what train|eval] [--device cuda|cpu] [--threads N] [--model resnet101]
                                        [--precision fp32|tf32|bf16] [--compile] [--batch N] [--classes 41]
                                        [--size 224] [--attributes 463] [--warmup 10] [--steps 50] [--json]
Prints images/s (median over steps after warm-up) and peak GPU memory. fp32 sets TF32 off for both cuBLAS and cuDNN
(PyTorch's cuDNN allows TF32 by default); bf16 uses autocast and channels_last.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F
import torchvision


class SgmlNet(torch.nn.Module):
    def __init__(self, arch, k):
        super().__init__()
        self.backbone = getattr(torchvision.models, arch)()
        width = self.backbone.fc.in_features  # 2048 (ResNet-50/101/152) or 512 (ResNet-18/34)
        self.backbone.fc = torch.nn.Identity()
        self.fc = torch.nn.Linear(width, 1024)
        self.emb = torch.nn.Linear(1024, 512)
        self.attr = torch.nn.Linear(1024, k)

    def forward(self, x):
        h = F.relu(self.fc(self.backbone(x)))
        return self.emb(h), self.attr(h)


def sgml_loss(emb, logits, targets, labels, alpha=2.0, beta=0.5, lam=1.0):
    e = F.normalize(emb.float(), dim=1)
    s = e @ e.t()
    p = F.normalize(torch.sigmoid(logits.float()), dim=1)
    g = p @ p.t()
    n = labels.numel()
    ii, jj = torch.triu_indices(n, n, offset=1, device=labels.device)
    pos = labels[ii] == labels[jj]
    sp, gp = s[ii, jj], g[ii, jj]
    l_pos = F.softplus(-alpha * (sp[pos] + gp[pos] - beta)).mean()
    l_neg = F.softplus(alpha * (sp[~pos] - gp[~pos] - beta)).mean()
    return l_pos + l_neg + lam * F.binary_cross_entropy_with_logits(logits.float(), targets)


def print_profile(step, steps, cuda):
    """Self time of each aten op per step (ms), largest first: where PyTorch's step goes, op by op."""
    from torch.autograd import profiler
    with profiler.profile(use_cuda=cuda) as prof:
        for _ in range(steps):
            step()
    rows = [(e.key, (e.self_cuda_time_total if cuda else e.self_cpu_time_total) / 1e3 / steps, e.count / steps)
            for e in prof.key_averages()]
    rows = sorted((r for r in rows if r[1] > 0), key=lambda r: -r[1])
    total = sum(r[1] for r in rows)
    print(f"pytorch op profile ({steps} steps; self time of each op)")
    print(f"{'op':<48} {'calls/step':>10} {'ms/step':>10} {'share':>7}")
    for name, ms, calls in rows:
        if ms / total >= 0.001:
            print(f"{name:<48} {calls:>10.1f} {ms:>10.3f} {100 * ms / total:>6.1f}%")
    print(f"{'profiled step (sum of self times)':<48} {'':>10} {total:>10.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", default="train", choices=["train", "eval"])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    ap.add_argument("--model", default="resnet101")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--batch", type=int, default=None, help="default: 164 (train), 256 (eval)")
    ap.add_argument("--classes", type=int, default=41)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--attributes", type=int, default=463)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="after the timed steps, profile --steps more and print each op's self time per step "
                         "(the counterpart of `sgml bench --profile`)")
    a = ap.parse_args()
    if a.batch is None:
        a.batch = 164 if a.what == "train" else 256
    tf32 = a.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    dev = torch.device(a.device)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = SgmlNet(a.model, a.attributes).to(dev).train()
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    if a.precision == "bf16":
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    labels = torch.arange(a.classes, device=dev).repeat_interleave(a.batch // a.classes)
    targets = (torch.rand(a.batch, a.attributes, device=dev) > 0.5).float()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    model = torch.compile(net) if a.compile else net

    def train_step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            emb, logits = model(x)
        loss = sgml_loss(emb, logits, targets, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def eval_step():
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            model(x)[0].float()

    if a.what == "eval":
        net.eval()
    step = train_step if a.what == "train" else eval_step
    cuda = dev.type == "cuda"
    for _ in range(a.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(a.steps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    peak = (torch.cuda.max_memory_allocated() if cuda else
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # ru_maxrss is in KiB on Linux
    result = {"framework": "pytorch", "what": a.what, "torch": torch.__version__,
              "device": torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)",
              "model": a.model, "precision": a.precision, "compile": a.compile, "batch": a.batch, "size": a.size,
              "step_ms_median": med * 1e3, "images_per_s": a.batch / med, "peak_mem_gib": peak / 2**30}
    if a.profile:
        print_profile(step, a.steps, cuda)
    print(json.dumps(result) if a.json else
          f"pytorch {a.what} {a.precision}{' compile' if a.compile else ''}: {result['images_per_s']:.1f} img/s, "
          f"step {result['step_ms_median']:.1f} ms, peak {result['peak_mem_gib']:.2f} GiB")


if __name__ == "__main__":
    main()
