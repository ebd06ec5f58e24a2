"""Each loss computes its published formula, on a D whose scores and gradients are known."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.config import LossConfig
from mnistgan.errors import ConfigError
from mnistgan.losses import (R1, R2, BCELoss, HingeLoss, ModeSeeking, RpGANLoss, WGANGPLoss, build_loss,
                             build_mode_seeking, build_penalties)
from mnistgan.train.step import Objective, g_step


class LinearD(nn.Module):
    """score(x) = <w, x>: its gradient with respect to x is w, for every x."""

    num_classes = 0

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((784,), scale))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return x.flatten(1) @ self.w


class QuadraticD(nn.Module):
    """score(x) = |x|^2: its gradient with respect to x is 2x, so it differs by image."""

    num_classes = 0

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return x.flatten(1).square().sum(1)


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.rand(6, 1, 28, 28) * 2 - 1, torch.rand(6, 1, 28, 28) * 2 - 1


def scores(D, real, fake):
    with torch.no_grad():
        return D(real), D(fake)


def test_bce_is_the_spec_with_one_sided_smoothing(batch):
    real, fake = batch
    D = LinearD(0.01)
    r, f = scores(D, real, fake)
    loss, stats = BCELoss(label_smoothing=0.1).d_loss(D, real, fake, None)
    expected = F.binary_cross_entropy(torch.sigmoid(r), torch.full((6,), 0.9)) + \
        F.binary_cross_entropy(torch.sigmoid(f), torch.zeros(6))
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(stats["d_real"], torch.sigmoid(r).mean())
    g_loss, _ = BCELoss().g_loss(D, None, fake, None)
    torch.testing.assert_close(g_loss, -torch.log(torch.sigmoid(f)).mean())


def test_hinge(batch):
    real, fake = batch
    D = LinearD(0.01)
    r, f = scores(D, real, fake)
    loss, stats = HingeLoss().d_loss(D, real, fake, None)
    torch.testing.assert_close(loss, F.relu(1 - r).mean() + F.relu(1 + f).mean())
    torch.testing.assert_close(stats["d_fake"], f.mean())
    torch.testing.assert_close(HingeLoss().g_loss(D, None, fake, None)[0], -f.mean())


def test_wgan_gp_penalises_the_gradient_norm_away_from_one(batch):
    real, fake = batch
    D = LinearD(0.1)  # |grad| = 0.1 * sqrt(784) = 2.8 everywhere
    r, f = scores(D, real, fake)
    loss, stats = WGANGPLoss(gp_weight=10.0).d_loss(D, real, fake, None)
    gp = (0.1 * math.sqrt(784) - 1) ** 2
    assert stats["gp"].item() == pytest.approx(gp, rel=1e-5)
    torch.testing.assert_close(loss, f.mean() - r.mean() + 10.0 * gp)
    loss.backward()  # the penalty is differentiable in D's weights (create_graph)
    assert D.w.grad is not None and torch.isfinite(D.w.grad).all()


def test_r1_is_lazy_and_scaled(batch):
    real, _ = batch
    D = LinearD(0.1)
    r1 = R1(gamma=2.0, every=4)
    assert [r1.due(s) for s in range(5)] == [True, False, False, False, True]
    # gamma / 2 * |w|^2 * every
    assert r1.penalty(D, real, None).item() == pytest.approx(1.0 * 0.01 * 784 * 4, rel=1e-5)


class PackedLinearD(nn.Module):
    """PacGAN's D with pack 2: score(pack) = <w, both images>, one score per two images."""

    num_classes, pack = 0, 2

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((2 * 784,), scale))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return x.reshape(-1, 2 * 784) @ self.w


def test_the_losses_and_penalties_take_a_packed_d_one_score_per_pack(batch):
    real, fake = batch
    D = PackedLinearD(0.01)
    r, f = scores(D, real, fake)  # [3], [3]
    loss, stats = BCELoss().d_loss(D, real, fake, None)
    expected = F.binary_cross_entropy(torch.sigmoid(r), torch.ones(3)) + \
        F.binary_cross_entropy(torch.sigmoid(f), torch.zeros(3))
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(stats["d_fake"], torch.sigmoid(f).mean())
    # R1's norm is the pack's (D's gradient with respect to its whole input): gamma / 2 * |w|^2
    assert R1(gamma=2.0, every=1).penalty(D, real, None).item() == pytest.approx(0.01**2 * 2 * 784, rel=1e-5)
    # WGAN-GP: (|w| - 1)^2 per pack, not per image
    _, stats = WGANGPLoss(gp_weight=1.0).d_loss(D, real, fake, None)
    assert stats["gp"].item() == pytest.approx((0.01 * math.sqrt(2 * 784) - 1) ** 2, rel=1e-5)


def test_rpgan_pairs_each_fake_with_its_real_partner(batch):
    real, fake = batch
    D = LinearD(0.1)
    r, f = scores(D, real, fake)
    loss, stats = RpGANLoss().d_loss(D, real, fake, None)
    torch.testing.assert_close(loss, F.softplus(-(r - f)).mean())  # softplus(-(D(x) - D(G(z)))), pair by pair
    torch.testing.assert_close(stats["d_real"], r.mean())
    g_loss, _ = RpGANLoss().g_loss(D, real, fake, None)
    torch.testing.assert_close(g_loss, F.softplus(-(f - r)).mean())
    # pairing matters: the same images in another order give another loss
    assert not torch.allclose(RpGANLoss().d_loss(D, real, fake.flip(0), None)[0], loss)


def test_rpgan_with_cls_weight_adds_the_projections_cross_entropy(batch):
    """D: plus w * CE(its class logits on the reals, their labels); G: plus w * CE(its class
    logits on the fakes, the labels asked for). The class logits are the projection's
    <embed(c), h>, so softmax over them is what D's score tells apart between classes."""
    from mnistgan.models.dcgan import DCGANDiscriminator

    real, fake = batch
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    torch.manual_seed(1)
    D = DCGANDiscriminator(channels=4, num_classes=3, d_head=8)
    plain, weighted = RpGANLoss(), RpGANLoss(cls_weight=0.5)
    with torch.no_grad():
        h_real, h_fake = D.features(real), D.features(fake)
        E = D.embed.weight  # [3, 8]
        # the class logits are the projection: D's score for label c is Linear(h) + logit c
        torch.testing.assert_close(D(real, y) - D.out(h_real).squeeze(1), (h_real @ E.t())[torch.arange(6), y])
        d_plain, _ = plain.d_loss(D, real, fake, y)
        d_weighted, stats = weighted.d_loss(D, real, fake, y)
        torch.testing.assert_close(d_weighted, d_plain + 0.5 * F.cross_entropy(h_real @ E.t(), y))
        torch.testing.assert_close(stats["d_cls"], F.cross_entropy(h_real @ E.t(), y))
        g_plain, _ = plain.g_loss(D, real, fake, y)
        g_weighted, stats = weighted.g_loss(D, real, fake, y)
        torch.testing.assert_close(g_weighted, g_plain + 0.5 * F.cross_entropy(h_fake @ E.t(), y))
    assert weighted.STATS == ("d_loss", "g_loss", "d_real", "d_fake", "d_cls", "g_cls") and "d_cls" not in plain.STATS
    # G's term reaches G through its images, and only through them
    fake.requires_grad_(True)
    D.requires_grad_(False)
    weighted.g_loss(D, real, fake, y)[0].backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


class ShiftedD(nn.Module):
    """Another D's scores plus a constant: the same D as far as rpgan can tell."""

    num_classes = 0

    def __init__(self, D: nn.Module, shift: float) -> None:
        super().__init__()
        self.D, self.shift = D, shift

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.D(x, y) + self.shift


def test_rpgan_gives_ada_a_signal_that_ignores_a_shift_of_the_scores(batch):
    real, fake = batch
    D = QuadraticD()
    r, f = scores(D, real, fake)
    _, stats = RpGANLoss().d_loss(D, real, fake, None)
    torch.testing.assert_close(stats["sign_real"], (r - f).sign().mean())  # each real against its partner
    assert stats["sign_real"] != r.sign().mean()  # all |x|^2 > 0: the raw sign would say "all real"
    for shift in (-100.0, 100.0):
        _, shifted = RpGANLoss().d_loss(ShiftedD(D, shift), real, fake, None)
        torch.testing.assert_close(shifted["sign_real"], stats["sign_real"])


def test_r2_is_r1_at_the_generated_images(batch):
    real, fake = batch
    D = QuadraticD()
    r1, r2 = R1(gamma=2.0, every=1), R2(gamma=2.0, every=1)
    assert (r1.on_fake, r2.on_fake, r1.lazy) == (False, True, False)
    # gamma / 2 * mean |grad D(x)|^2 with D(x) = sum(x^2): |grad|^2 = 4 |x|^2
    expected = 1.0 * (4 * fake.flatten(1).square().sum(1)).mean()
    torch.testing.assert_close(r2.penalty(D, fake, None), expected)
    assert r2.penalty(D, fake, None).item() != pytest.approx(r1.penalty(D, real, None).item())


def test_mode_seeking_pairs_images_of_one_label_and_divides_by_the_noises_distance():
    fake = torch.zeros(5, 1, 2, 2)
    fake[1], fake[3] = 0.5, 2.0  # labels 0, 1, 1, 0, 0: the pairs are (0, 3) and (1, 2); 4 sits out
    z = torch.zeros(5, 4)
    z[3], z[2] = 1.0, 4.0
    y = torch.tensor([0, 1, 1, 0, 0])
    # (mean|f0 - f3| + mean|f1 - f2|) / (mean|z0 - z3| + mean|z1 - z2|) = (2 + 0.5) / (1 + 4)
    torch.testing.assert_close(ModeSeeking(2.0).penalty(fake, z, y), torch.tensor(2.0 / (0.5 + 1e-5)))
    # unconditional: the batch in turn, (0, 1) and (2, 3): (0.5 + 2) / (0 + 3)
    torch.testing.assert_close(ModeSeeking(1.0).penalty(fake, z, None), torch.tensor(1 / (2.5 / 3 + 1e-5)))
    # an odd one out does not shift the pairs across labels: labels 0, 0, 0, 1, 1 pair (0, 1) and (3, 4)
    f, w = torch.tensor([0.0, 1, 0, 0, 3]), torch.tensor([0.0, 1, 0, 0, 1])
    odd = ModeSeeking(1.0).penalty(f.reshape(5, 1, 1, 1).expand(5, 1, 2, 2), w[:, None].expand(5, 4),
                                   torch.tensor([0, 0, 0, 1, 1]))
    torch.testing.assert_close(odd, torch.tensor(1 / ((1 + 3) / (1 + 1) + 1e-5)))
    assert build_mode_seeking(LossConfig()) is None
    with pytest.raises(ConfigError, match="ms_weight must be 0 or positive"):
        LossConfig(ms_weight=-1.0)


def test_mode_seeking_joins_gs_loss_and_pushes_its_images_apart():
    torch.manual_seed(0)
    G = nn.Linear(8, 16)
    z, fake_of = torch.randn(6, 8), lambda: G(z).reshape(6, 1, 4, 4)
    ms = ModeSeeking(1.0)
    obj = Objective(RpGANLoss(), mode_seeking=ms)
    assert obj.stat_names[-1] == "ms"
    before = ms.penalty(fake_of(), z, None).item()
    opt = torch.optim.SGD(G.parameters(), lr=0.01)
    for _ in range(5):
        stats = g_step(QuadraticD(), opt, RpGANLoss(), torch.zeros(6, 1, 4, 4), fake_of(), None, mode_seeking=ms, z=z)
    assert stats["ms"].item() < before  # G's images drew apart, so the term fell

    assert BCELoss().d_won({"d_loss": 0.005, "d_fake": 0.001})
    assert not BCELoss().d_won({"d_loss": 0.5, "d_fake": 0.001})
    assert BCELoss(0.1).d_won({"d_loss": 0.33, "d_fake": 0.001})  # at H(0.9), the least it can be
    assert HingeLoss().d_won({"d_loss": 0.0, "d_fake": -3.0}) and not HingeLoss().d_won({"d_loss": 0.4})
    assert not WGANGPLoss().d_won({"d_loss": -100.0, "d_fake": -50.0})  # no saturation in WGAN
    assert RpGANLoss().d_won({"d_loss": 0.005}) and not RpGANLoss().d_won({"d_loss": 0.3})


def test_registry_and_config_checks():
    assert isinstance(build_loss(LossConfig(name="hinge")), HingeLoss)
    cfg = LossConfig(name="wgan-gp", r1_gamma=1.0)
    assert Objective(build_loss(cfg), build_penalties(cfg)).stat_names == ("d_loss", "g_loss", "d_real", "d_fake", "gp",
                                                                           "r1")
    both = build_penalties(LossConfig(name="rpgan", r1_gamma=1.0, r2_gamma=2.0, r1_every=1, r2_every=1))
    assert [(type(p), p.gamma, p.lazy) for p in both] == [(R1, 1.0, False), (R2, 2.0, False)]
    with pytest.raises(ConfigError, match="choose from bce, hinge, rpgan, wgan-gp"):
        build_loss(LossConfig(name="lsgan"))
    with pytest.raises(ConfigError, match="bce loss only"):
        LossConfig(name="hinge", label_smoothing=0.1)
    with pytest.raises(ConfigError, match="cls_weight applies to the rpgan loss only"):
        LossConfig(name="bce", cls_weight=0.1)
