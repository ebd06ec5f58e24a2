"""Draw the tutorial's figures from one run folder's own files.

    python tools/docs_tutorial_figures.py RUN [--epochs 1 2 5 20] [--out docs/tutorial]

writes d_outputs.png (mean D(x) and D(G(z)) at every metrics line), fid.png (the light
evaluation's FID beside the real floor) and grids.png (the fixed-noise grids of the chosen
epochs, side by side), all read from RUN/metrics.jsonl and RUN/samples/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from mnistgan.runfolder import grid_files, read_metrics  # noqa: E402


def d_outputs(records: list[dict], out: Path) -> None:
    lines = [r for r in records if "d_real" in r]
    per_epoch = max(r["step"] for r in lines if r["epoch"] == 1)
    x = [r["step"] / per_epoch for r in lines]
    fig, ax = plt.subplots(figsize=(7, 3), dpi=110)
    ax.plot(x, [r["d_real"] for r in lines], label="mean D(x): real images", color="tab:blue")
    ax.plot(x, [r["d_fake"] for r in lines], label="mean D(G(z)): generated images", color="tab:red")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="epoch", ylabel="D's probability of 'real'", ylim=(0, 1))
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def fid(records: list[dict], out: Path) -> None:
    evals = [r for r in records if "eval" in r]
    fig, ax = plt.subplots(figsize=(7, 3), dpi=110)
    ax.plot([r["epoch"] for r in evals], [r["eval"]["fid_lenet"] for r in evals], "o-", label="generated")
    ax.plot([r["epoch"] for r in evals], [r["floor"]["fid_lenet"] for r in evals], "s--", label="real floor")
    ax.set(xlabel="epoch", ylabel="FID (n = 2,000, lower is better)", yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def grids(run: Path, epochs: list[int], out: Path) -> None:
    files = grid_files(run)
    images = [Image.open(files[e]).convert("L") for e in epochs]
    w, h = images[0].size
    sheet = Image.new("L", ((w + 8) * len(images) - 8, h + 18), 255)
    draw = ImageDraw.Draw(sheet)
    for i, (e, im) in enumerate(zip(epochs, images)):
        sheet.paste(im, (i * (w + 8), 18))
        draw.text((i * (w + 8) + 2, 3), f"epoch {e}", fill=0)
    sheet.resize((sheet.width * 2, sheet.height * 2), Image.NEAREST).save(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 5, 20])
    p.add_argument("--out", type=Path, default=Path("docs/tutorial"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    records = read_metrics(args.run)
    d_outputs(records, args.out / "d_outputs.png")
    fid(records, args.out / "fid.png")
    grids(args.run, args.epochs, args.out / "grids.png")
    print(f"wrote {args.out}/d_outputs.png, fid.png, grids.png")


if __name__ == "__main__":
    main()
