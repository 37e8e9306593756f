"""vitbench's VisionTransformer vs timm's, same config, same device and dtype, measured side by side.

    .venv/bin/python benchmarks/timm_vs_vitbench.py [--model vit_b16] [--res 224] [--batch 8]
        [--device auto] [--dtype fp32|fp16|bf16] [--repeats 6] [--iters 5]

timm's model is built with the same width/depth/heads/patch/resolution and loaded with vitbench's weights
(the parameter names are timm's), so both compute the same function: the outputs are checked to agree. The
two are then timed in interleaved rounds (ABBA order: vitbench, timm, timm, vitbench, ...), each round a
warm-up and `iters` timed forwards with vitbench's own timer (CUDA events / perf_counter_ns), so drift and
thermal state hit both alike. Prints each one's median over all rounds and the ratio of medians
vitbench / timm (the target is <= 1.05). Also prints the timer's own per-iteration overhead.
Exits with code 2 and a one-line message when timm is not installed (pip install timm).
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vit_b16", help="zoo name (vit_*; DeiT's distilled head is not compared)")
    p.add_argument("--res", default="224")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="fp32", choices=("fp32", "fp16", "bf16"))
    p.add_argument("--repeats", type=int, default=6, help="interleaved rounds per implementation")
    p.add_argument("--iters", type=int, default=5, help="timed forwards per round")
    return p.parse_args(argv)


def timm_twin(cfg):
    """timm's VisionTransformer with vitbench's config."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=cfg.img_size, patch_size=cfg.patch, embed_dim=cfg.dim, depth=cfg.depth, num_heads=cfg.heads,
        mlp_ratio=cfg.mlp_ratio, qkv_bias=cfg.qkv_bias, num_classes=cfg.num_classes,
        global_pool="token" if cfg.pool == "cls" else "avg", class_token=True, reg_tokens=cfg.registers,
    )


def main(argv=None) -> int:
    import torch

    from vitbench.devices import device_name
    from vitbench.devices import resolve as resolve_device
    from vitbench.measure.stats import summarize
    from vitbench.measure.timer import overhead_ms, time_fn
    from vitbench.model import build_model, example_input
    from vitbench.zoo import resolve

    args = parse_args(argv)
    device = resolve_device(args.device)
    print(f"timer overhead on {device}: {overhead_ms(device) * 1e3:.2f} µs per iteration (empty callable, median)")
    try:
        import timm
    except ImportError:
        print("error: timm is not installed; install it (pip install timm) to compare against it", file=sys.stderr)
        return 2
    cfg = resolve(args.model, args.res)
    if cfg.distill or cfg.registers:
        print("error: compare plain ViTs (vit_*): the distilled / register variants differ in layout", file=sys.stderr)
        return 2
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    torch.manual_seed(0)
    ours = build_model(cfg, device).to(dtype).eval()
    theirs = timm_twin(cfg).to(device)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    theirs = theirs.to(dtype).eval()
    x = example_input(cfg, args.batch, device, dtype)
    with torch.inference_mode():
        diff = (ours(x).float() - theirs(x).float()).abs().max().item()
        tol = 1e-3 if dtype == torch.float32 else 5e-2
        if diff > tol:
            print(f"error: outputs differ by {diff:.3g} (> {tol}); the two models do not compute the same thing",
                  file=sys.stderr)
            return 1
        samples = {"vitbench": [], "timm": []}
        models = {"vitbench": ours, "timm": theirs}
        for r in range(args.repeats):
            order = ("vitbench", "timm") if r % 2 == 0 else ("timm", "vitbench")
            for name in order:
                m = models[name]
                t = time_fn(lambda: m(x), device, warmup=1, min_warmup_s=0.0, iters=args.iters)
                samples[name] += t.samples_ms
    s = {name: summarize(v) for name, v in samples.items()}
    print(f"{cfg.name} {cfg.res_label} px, batch {args.batch}, {args.dtype}, {device} ({device_name(device)}), "
          f"torch {torch.__version__}, timm {timm.__version__}, {torch.get_num_threads()} threads")
    for name, v in s.items():
        print(f"  {name:9s} median {v.median:9.3f} ms  p10 {v.p10:9.3f}  p90 {v.p90:9.3f}  n {v.n}")
    ratio = s["vitbench"].median / s["timm"].median
    print(f"  ratio of medians vitbench / timm = {ratio:.3f} ({'within' if ratio <= 1.05 else 'ABOVE'} the 1.05 target)")
    print(f"  max |Δ output| = {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
