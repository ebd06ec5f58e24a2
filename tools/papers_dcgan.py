"""The papers' Stacked MNIST DCGAN, ported to PyTorch, to explain why our `dcgan` lands so far
from their DCGAN row (README, "Mode coverage: Stacked MNIST").

The DCGAN and PacDCGAN rows of PacGAN's Table 2 come from one script (github.com/fjxmlzn/PacGAN,
stacked_MNIST_experiments/VEEGAN_experiment, DCGAN-tensorflow's networks); packing is its only
difference between them. This is that script's recipe, not the package's `dcgan`:

- D: four 5x5 stride-2 convolutions of w, 2w, 4w and 8w filters (28 -> 14 -> 7 -> 4 -> 2), batch
  norm after the last three, LeakyReLU 0.2, a linear score. The real and the generated batch go
  through it apart, so each is normalised by its own statistics (a D the package's per-image
  contract excludes, hence a script).
- G: z ~ U(-1, 1)^100 -> linear -> [8w, 2, 2] -> four 5x5 stride-2 transposed convolutions (to 4, 7,
  14, 28), batch norm and ReLU between them, tanh; sampled with batch norm's running statistics.
- Real images in [0, 1]; BCE; Adam 2e-4, betas (0.5, 0.999); 64 packs a step; G updated twice
  (on the same z) after each D update; 128,000 triples in one fixed order of packs drawn with
  replacement, every epoch.
- Packing m: D's input is m images' 3m channels; G draws each pack's m images apart.

Theirs ran 50 epochs at w = 64; at 17 images a second on one CPU thread that is 100 hours, so
`--width` scales both networks down. Every `--eval-minutes` of training, modes and KL over
26,000 samples (the shipped evaluator labels each channel, as `evaluate`) go to DIR/log.jsonl,
and the last grid to DIR/grid.png.

    python tools/papers_dcgan.py --data-dir ../shared/datasets/mnist --width 16 --minutes 45 --out DIR \
        [--pack 2] [--no-d-norm] [--g-steps 1] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.data.sources import Sources, load_split
from mnistgan.eval.evaluator import get_evaluator
from mnistgan.eval.modes import N, digit_kl, embed_channels, mode_kl, modes_covered
from mnistgan.images import make_grid, save_png

Z_DIM, BATCH, LR, BETAS = 100, 64, 2e-4, (0.5, 0.999)


def _init(module: nn.Module) -> nn.Module:
    """DCGAN-tensorflow's initialisation: weights N(0, 0.02), biases 0 (batch norm: 1 and 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def generator(w: int, img_channels: int = 3) -> nn.Module:
    def up(cin: int, cout: int, out_pad: int) -> list[nn.Module]:  # size -> 2 size - 1 + out_pad
        return [nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=out_pad), nn.BatchNorm2d(cout), nn.ReLU()]

    return _init(nn.Sequential(
        nn.Linear(Z_DIM, 8 * w * 2 * 2), nn.Unflatten(1, (8 * w, 2, 2)), nn.BatchNorm2d(8 * w), nn.ReLU(),
        *up(8 * w, 4 * w, 1), *up(4 * w, 2 * w, 0), *up(2 * w, w, 1),  # [B, w, 14, 14]
        nn.ConvTranspose2d(w, img_channels, 5, 2, 2, output_padding=1), nn.Tanh(),  # [B, C, 28, 28]
    ))


def discriminator(w: int, in_channels: int, norm: bool = True) -> nn.Module:
    def down(cin: int, cout: int, bn: bool) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 5, 2, 2), *([nn.BatchNorm2d(cout)] if bn else []), nn.LeakyReLU(0.2)]

    return _init(nn.Sequential(
        *down(in_channels, w, False), *down(w, 2 * w, norm), *down(2 * w, 4 * w, norm), *down(4 * w, 8 * w, norm),
        nn.Flatten(), nn.Linear(8 * w * 2 * 2, 1),  # [B, 1]: one logit a pack
    ))


def packs(images: torch.Tensor) -> torch.Tensor:
    """[B, m, C, H, W] -> [B, m*C, H, W]: a pack's images side by side along channels."""
    return images.flatten(1, 2)


def train_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               real: torch.Tensor, pack: int, g_steps: int) -> tuple[float, float]:
    """D on a real batch and a generated one (each normalised apart), then G g_steps times on the same z."""
    z = torch.rand(pack, real.shape[0], Z_DIM) * 2 - 1  # each of a pack's images from its own G batch

    def fake() -> torch.Tensor:  # [B, m*3, 28, 28]
        return packs(torch.stack([G(z[i]) for i in range(pack)], dim=1))

    d_real, d_fake = D(real), D(fake().detach())
    loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
              + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    for _ in range(g_steps):
        d_fake = D(fake())
        loss_g = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return loss_d.item(), loss_g.item()


@torch.no_grad()
def sample_uint8(G: nn.Module, n: int, seed: int) -> torch.Tensor:
    """n images, uint8 [n, 3, 28, 28]; G's output on the real images' [0, 1] scale."""
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    out = torch.cat([G(torch.rand(min(1000, n - i), Z_DIM, generator=gen) * 2 - 1) for i in range(0, n, 1000)])
    G.train()
    return (out.clamp(0, 1) * 255).round().to(torch.uint8)


Embed = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # the evaluator: images -> (features, probabilities)


def score(embed: Embed, images: torch.Tensor) -> dict[str, float]:
    labels = embed_channels(embed, images)[2]
    return {"modes": modes_covered(labels), "mode_kl": round(mode_kl(labels), 4), "digit_kl": round(digit_kl(labels), 4)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for log.jsonl and grid.png")
    p.add_argument("--data-dir", type=Path, help="the folder with MNIST's IDX files")
    p.add_argument("--data", default="stacked-mnist", help="a 3-channel dataset (default: stacked-mnist)")
    p.add_argument("--width", type=int, default=16, help="w: D's filters are w..8w, G's 8w..w (the paper: 64)")
    p.add_argument("--pack", type=int, default=1, help="images D judges at once (PacDCGAN m; 1: DCGAN)")
    p.add_argument("--no-d-norm", dest="d_norm", action="store_false", help="D without batch norm")
    p.add_argument("--g-steps", type=int, default=2, help="G updates after each D update (the script: 2)")
    p.add_argument("--minutes", type=float, default=45.0, help="training minutes (evaluation not counted)")
    p.add_argument("--eval-minutes", type=float, default=5.0, help="training minutes between evaluations")
    p.add_argument("--n", type=int, default=N, help="samples each evaluation scores (the papers: 26,000)")
    p.add_argument("--train-size", type=int, default=0, help="training triples used (0: all 128,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.width < 1 or args.pack < 1 or args.g_steps < 1 or args.minutes <= 0 or args.eval_minutes <= 0:
        p.error("--width, --pack and --g-steps must be at least 1, --minutes and --eval-minutes above 0")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    sources = Sources(data_dir=args.data_dir)
    real = load_split(args.data, "train", sources).images  # uint8 [128000, 3, 28, 28]
    real = real[: args.train_size or None]
    embed = get_evaluator("mnist", sources).embed
    order = torch.randint(len(real), (len(real), args.pack))  # packs, drawn once with replacement
    G, D = generator(args.width), discriminator(args.width, 3 * args.pack, args.d_norm)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), LR, betas=BETAS), torch.optim.Adam(D.parameters(), LR, betas=BETAS)
    args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "log.jsonl").open("w")
    steps_per_epoch, step, trained, next_eval = len(real) // BATCH, 0, 0.0, args.eval_minutes
    while True:
        i = step % steps_per_epoch
        batch = packs(real[order[i * BATCH:(i + 1) * BATCH]].float() / 255)  # [64, m*3, 28, 28] in [0, 1]
        t0 = time.perf_counter()
        loss_d, loss_g = train_step(G, D, opt_g, opt_d, batch, args.pack, args.g_steps)
        trained += (time.perf_counter() - t0) / 60
        step += 1
        done = trained >= args.minutes
        if trained >= next_eval or done:
            images = sample_uint8(G, args.n, seed=0)
            row = {"minutes": round(trained, 3), "epochs": round(step / steps_per_epoch, 3), "images": step * BATCH,
                   **score(embed, images), "loss_d": round(loss_d, 4), "loss_g": round(loss_g, 4)}
            print(json.dumps(row), file=log, flush=True)
            print(json.dumps(row), flush=True)
            save_png(args.out / "grid.png", make_grid(images[:64].numpy(), nrow=8))
            next_eval += args.eval_minutes
        if done:
            break
    log.close()


if __name__ == "__main__":
    main()
