"""tools/papers_dcgan.py, the port of PacGAN's Stacked MNIST DCGAN that the README's explanation
of the papers' DCGAN row rests on: its packing, its batch-norm D and its log."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("papers_dcgan", ROOT / "tools" / "papers_dcgan.py")
papers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(papers)


def test_a_pack_is_its_images_side_by_side_and_d_scores_it_whole():
    images = torch.rand(4, 2, 3, 28, 28)  # 4 packs of 2 RGB images
    joined = papers.packs(images)
    assert joined.shape == (4, 6, 28, 28)
    assert torch.equal(joined[:, 3:], images[:, 1])  # the second image's channels follow the first's
    D = papers.discriminator(4, in_channels=6).eval()
    other = images.clone()
    other[:, 1] = torch.rand(4, 3, 28, 28)  # change only each pack's second image
    assert D(joined).shape == (4, 1)
    assert not torch.allclose(D(joined), D(papers.packs(other)))


def test_the_batch_norm_d_normalises_each_batch_apart():
    """The script's D sees the real and the generated batch in separate calls: in training mode a
    batch's scores depend on the rest of its batch (the papers' D), without batch norm they do not."""
    x = torch.rand(8, 3, 28, 28)
    with_bn, without = papers.discriminator(4, 3), papers.discriminator(4, 3, norm=False)
    assert not torch.allclose(with_bn(x)[:4], with_bn(x[:4]))
    assert torch.allclose(without(x)[:4], without(x[:4]), atol=1e-6)


def test_it_trains_packed_on_a_stacked_set_and_logs_modes(tiny_stacked, tmp_path):
    out = tmp_path / "out"
    papers.main(["--data", "tiny-stacked", "--data-dir", str(tiny_stacked[1]), "--out", str(out), "--width", "2",
                 "--pack", "2", "--minutes", "0.004", "--eval-minutes", "0.002", "--n", "50"])
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert rows and rows[-1]["minutes"] >= 0.004 and rows[-1]["epochs"] > 0
    assert all(1 <= r["modes"] <= 50 and 0 <= r["digit_kl"] <= r["mode_kl"] + 1e-9 for r in rows)
    assert Image.open(out / "grid.png").mode == "RGB"


def test_a_bad_option_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        papers.main(["--out", str(tmp_path), "--pack", "0"])
    assert e.value.code == 2 and "--pack" in capsys.readouterr().err
