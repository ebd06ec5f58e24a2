"""Does `mnistgan data import` convert image files the MNIST way? A round trip through PNG.

    OMP_NUM_THREADS=1 python benchmarks/import_roundtrip.py --data-dir ../shared/datasets/mnist [-n 2000]

MNIST's test digits are already fitted in 20x20 and centred by mass. Each is written as a
PNG the way a user's scan might look: enlarged 3x (84x84, bicubic), dark ink on a light
background, in class subfolders, every second one shifted off centre on a larger page.
Importing the folder with --invert should give back digits the shipped MNIST evaluator
reads as well as the originals. Prints the conversion speed, the pixel difference from the
originals, and the evaluator's accuracy on both.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnistgan.hardware import machine_line
from mnistgan.data.importer import import_dataset
from mnistgan.data.sources import Sources, load_split
from mnistgan.eval.evaluator import get_evaluator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("-n", type=int, default=2000)
    args = p.parse_args()
    print(machine_line("cpu"), flush=True)
    sources = Sources(data_dir=Path(args.data_dir), download=False)
    test = load_split("mnist", "test", sources)
    images, labels = test.images[: args.n].numpy(), test.labels[: args.n].numpy()
    with tempfile.TemporaryDirectory() as tmp:
        src, cache = Path(tmp) / "scans", Path(tmp) / "cache"
        for i, (img, y) in enumerate(zip(images, labels)):
            folder = src / "train" if i % 10 else src / "test"  # keep the order: 9 of 10 in train
            (folder / str(y)).mkdir(parents=True, exist_ok=True)
            big = Image.fromarray(255 - img).resize((84, 84), Image.Resampling.BICUBIC)
            if i % 2:  # off centre on a larger, light page
                page = Image.new("L", (130, 110), 255)
                page.paste(big, (40 + i % 7, 3 + i % 5))
                big = page
            big.save(folder / str(y) / f"{i:05d}.png")
        start = time.perf_counter()
        import_dataset(src, "scans", cache, invert=True)
        seconds = time.perf_counter() - start
        s = Sources(cache_dir=cache, download=False)
        train, test = load_split("scans", "train", s), load_split("scans", "test", s)
        got, got_labels = torch.cat([train.images, test.images]), torch.cat([train.labels, test.labels])
    # The import orders each split by class folder, then file name: put the originals in that order.
    order = sorted(range(len(images)), key=lambda i: (i % 10 == 0, labels[i], i))
    want, want_labels = torch.from_numpy(images[order]), torch.from_numpy(labels[order].astype(np.int64))
    assert torch.equal(got_labels, want_labels)
    diff = (got.float() - want.float()).abs()
    ev = get_evaluator("mnist", sources)
    acc = [float((ev.embed(x)[1].argmax(1) == want_labels).double().mean()) for x in (want, got)]
    print(f"{len(images)} PNG files (84x84, half of them off centre on a 130x110 page) imported in {seconds:.1f} s "
          f"({len(images) / seconds:.0f} images/s, 1 thread)")
    print(f"pixel difference from the original 28x28 digits: mean {diff.mean():.1f} of 255, median per image "
          f"{diff.mean((1, 2)).median():.1f}")
    print(f"shipped MNIST evaluator accuracy: originals {acc[0]:.2%}, converted {acc[1]:.2%}")


if __name__ == "__main__":
    main()
