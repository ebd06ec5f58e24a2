import copy

import torch
import torch.nn.functional as F

from mnistgan.config import PRESETS
from mnistgan.models import build_discriminator, build_generator
from mnistgan.losses import BCELoss
from mnistgan.train.step import Objective, d_step, g_step, train_step

BCE = BCELoss()


def _setup():
    torch.manual_seed(0)
    cfg = PRESETS["classic"].model
    G, D = build_generator(cfg), build_discriminator(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4)
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    z = torch.randn(8, 64)
    return G, D, opt_g, opt_d, real, z


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_d_step_is_bce_on_real_and_fake_and_moves_only_d():
    G, D, opt_g, opt_d, real, z = _setup()
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    fake = G(z)
    stats = d_step(D, opt_d, BCE, real, fake, None)
    loss, d_real, d_fake = stats["d_loss"], stats["d_real"], stats["d_fake"]
    # The spec's loss: BCE of sigmoid(D(x)) against 1 plus against 0 for fakes.
    p_real, p_fake = torch.sigmoid(D0(real)), torch.sigmoid(D0(fake))
    expected = F.binary_cross_entropy(p_real, torch.ones(8)) + F.binary_cross_entropy(p_fake, torch.zeros(8))
    assert torch.allclose(loss, expected, atol=1e-5)
    assert torch.allclose(d_real, p_real.mean()) and torch.allclose(d_fake, p_fake.mean())
    assert _same(G, G0) and not _same(D, D0)
    assert all(p.grad is None for p in G.parameters())


def test_g_step_fools_d_and_moves_only_g():
    G, D, opt_g, opt_d, real, z = _setup()
    D0, G0 = copy.deepcopy(D), copy.deepcopy(G)
    fake = G(z)
    loss = g_step(D, opt_g, BCE, real, fake, None)["g_loss"]
    expected = F.binary_cross_entropy(torch.sigmoid(D0(G0(z))), torch.ones(8))
    assert torch.allclose(loss, expected, atol=1e-5)
    assert _same(D, D0) and not _same(G, G0)
    assert all(p.requires_grad for p in D.parameters())


def test_train_step_updates_d_first_then_g():
    G, D, opt_g, opt_d, real, z = _setup()
    # The G step must see the D that the D step produced: replay by hand and compare.
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    og2 = torch.optim.Adam(G2.parameters(), lr=2e-4)
    od2 = torch.optim.Adam(D2.parameters(), lr=2e-4)
    fake = G2(z)
    d_step(D2, od2, BCE, real, fake, None)
    g_step(D2, og2, BCE, real, fake, None)
    train_step(G, D, opt_g, opt_d, Objective(BCE), real, None, z)
    assert _same(G, G2) and _same(D, D2)


def test_a_few_steps_teach_d_to_separate():
    G, D, opt_g, opt_d, real, z = _setup()
    for _ in range(50):
        s = train_step(G, D, opt_g, opt_d, Objective(BCE), real, None, torch.randn(8, 64))
    assert s["d_real"] > s["d_fake"]
