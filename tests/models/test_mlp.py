import torch
from torch import nn

from mnistgan.config import PRESETS
from mnistgan.models import build_discriminator, build_generator


def _linear_shapes(m: nn.Module) -> list[tuple[int, int]]:
    return [(l.in_features, l.out_features) for l in m.modules() if isinstance(l, nn.Linear)]


def _spec_layers(G: nn.Module, D: nn.Module) -> None:
    """The spec's structure: fully connected, ReLU in G (tanh out), LeakyReLU(0.2) in D."""
    assert [type(m) for m in G.net] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear, nn.Tanh]
    assert [type(m) for m in D.net] == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.LeakyReLU, nn.Linear]
    assert all(m.negative_slope == 0.2 for m in D.net if isinstance(m, nn.LeakyReLU))


def test_classic_preset_is_the_spec_at_its_measured_sizes():
    cfg = PRESETS["classic"].model
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert _linear_shapes(G) == [(64, 1024), (1024, 1024), (1024, 784)]
    assert _linear_shapes(D) == [(784, 256), (256, 256), (256, 1)]
    _spec_layers(G, D)
    assert sum(p.numel() for p in G.parameters()) == 1_919_760
    assert sum(p.numel() for p in D.parameters()) == 267_009
    assert PRESETS["classic"].train.ema_halflife == 10_000
    assert PRESETS["classic"].train.epochs == 40


def test_the_tutorial_sizes_stay_reachable_by_name():
    cfg = PRESETS["classic-tutorial"].model
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert _linear_shapes(G) == [(64, 256), (256, 256), (256, 784)]
    assert _linear_shapes(D) == [(784, 256), (256, 256), (256, 1)]
    _spec_layers(G, D)
    assert sum(p.numel() for p in G.parameters()) == 283_920
    assert sum(p.numel() for p in D.parameters()) == 267_009
    assert PRESETS["classic-tutorial"].train.ema_halflife == 0


def test_shapes_and_ranges():
    cfg = PRESETS["classic"].model
    G, D = build_generator(cfg), build_discriminator(cfg)
    x = G(torch.randn(5, 64))
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (5,)


def test_sample_is_seeded():
    G = build_generator(PRESETS["classic"].model)
    assert torch.equal(G.sample(7, seed=3), G.sample(7, seed=3))
    assert not torch.equal(G.sample(7, seed=3), G.sample(7, seed=4))
    assert G.sample(2500, seed=1, batch_size=1000).shape == (2500, 1, 28, 28)
