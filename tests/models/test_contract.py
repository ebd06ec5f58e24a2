"""The contract every registered model keeps, unconditional and conditional, on grey and
RGB images (img_channels 1 and 3), and with a packed D (model.pack, PacGAN): shapes,
seeded determinism, a weights file that rebuilds its model alone, labels that matter,
and a per-sample (per-pack) D (real and fake may share one forward pass)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mnistgan.config import LossConfig, ModelConfig, RunConfig
from mnistgan.errors import ConfigError
from mnistgan.io.weights import load_discriminator_file, load_weights, save_discriminator, save_generator
from mnistgan.models import ARCHS, build_discriminator, build_generator, check_arch, rebuild_generator

# Tiny widths: the contract does not depend on size.
CASES = [ModelConfig(arch=arch, z_dim=8, hidden=16, channels=4, num_classes=c, spectral_norm=sn, img_channels=ch)
         for arch, (_, d) in ARCHS.items() for c in (0, 10) for sn in (False, True) if d.spectral_norm_ok or not sn
         for ch in (1, 3)]
# The MLP's other shapes: three hidden layers, D narrower than G, dropout in D.
CASES += [ModelConfig(z_dim=8, hidden=16, hidden_d=12, depth=3, dropout_d=0.3, num_classes=c) for c in (0, 10)]
# The convolutional nets with D wider than G.
CASES += [ModelConfig(arch=arch, z_dim=8, channels=4, channels_d=6, num_classes=c) for arch in ("dcgan", "resnet")
          for c in (0, 10)]
# The DCGAN's D with a hidden layer before its score (model.d_head).
CASES += [ModelConfig(arch="dcgan", z_dim=8, channels=4, d_head=12, num_classes=c) for c in (0, 10)]
# The other ways a conditional DCGAN's G takes the label (model.g_cond).
CASES += [ModelConfig(arch="dcgan", z_dim=8, channels=4, num_classes=10, g_cond=g) for g in ("concat", "cbn")]
# PacGAN: D judges packs of 2 images (unconditional only).
CASES += [ModelConfig(arch=arch, z_dim=8, hidden=16, channels=4, pack=2, img_channels=ch) for arch in ARCHS
          for ch in (1, 3)]


def ids(cfg: ModelConfig) -> str:
    shape = f"-depth{cfg.depth}-dropout" if cfg.depth != 2 else ""
    rgb = "-rgb" if cfg.img_channels == 3 else ""
    pack = f"-pack{cfg.pack}" if cfg.pack > 1 else ""
    wide_d = "-wide-d" if cfg.channels_d else ""
    sn = "-sn" if cfg.spectral_norm else ""
    g_cond = f"-{cfg.g_cond}" if cfg.g_cond != "scale" else ""
    head = f"-head{cfg.d_head}" if cfg.d_head else ""
    return f"{cfg.arch}-{'cond' if cfg.num_classes else 'uncond'}{sn}{shape}{rgb}{pack}{wide_d}{g_cond}{head}"


def labels(cfg: ModelConfig, n: int, offset: int = 0) -> torch.Tensor | None:
    return (torch.arange(n) + offset) % 10 if cfg.num_classes else None


@pytest.mark.parametrize("cfg", CASES, ids=ids)
def test_shapes_and_ranges(cfg):
    torch.manual_seed(0)
    G, D = build_generator(cfg), build_discriminator(cfg)
    x = G.generate(torch.randn(6, cfg.z_dim), labels(cfg, 6))
    assert x.shape == (6, cfg.img_channels, 28, 28) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    scores = D(x, labels(cfg, 6))
    assert scores.shape == (6 // cfg.pack,) and torch.isfinite(scores).all()


@pytest.mark.parametrize("cfg", CASES, ids=ids)
def test_seeded_construction_and_sampling_are_deterministic(cfg):
    torch.manual_seed(3)
    G1 = build_generator(cfg)
    torch.manual_seed(3)
    G2 = build_generator(cfg)
    assert torch.equal(G1.sample(5, seed=1), G2.sample(5, seed=1))
    assert not torch.equal(G1.sample(5, seed=1), G1.sample(5, seed=2))
    assert G1.training  # sampling leaves the training mode as it was


@pytest.mark.parametrize("cfg", CASES, ids=ids)
def test_weights_file_rebuilds_the_model_alone(cfg, tmp_path):
    torch.manual_seed(0)
    G = build_generator(cfg)
    G.train()
    for _ in range(2):  # move batch-norm statistics away from their initial values
        G(torch.randn(8, cfg.z_dim), labels(cfg, 8))
    path = tmp_path / "g.safetensors"
    save_generator(path, G, RunConfig(), epoch=1)  # a config describing another model: the file's args win
    loaded, _ = load_weights(path)
    assert type(loaded) is type(G) and loaded.args == G.args
    assert torch.equal(loaded.sample(7, seed=4), G.sample(7, seed=4))


@pytest.mark.parametrize("cfg", CASES, ids=ids)
def test_a_discriminator_file_rebuilds_d_alone(cfg, tmp_path):
    """D's constructor arguments are config keys too (a shipped model's D, for the web app's game)."""
    torch.manual_seed(0)
    D = build_discriminator(cfg).eval()
    path = tmp_path / "d.safetensors"
    save_discriminator(path, D, RunConfig(), epoch=1)
    loaded = load_discriminator_file(path).eval()
    x = torch.rand(6, cfg.img_channels, 28, 28) * 2 - 1
    assert type(loaded) is type(D) and loaded.args == D.args
    assert torch.equal(loaded(x, labels(cfg, 6)), D(x, labels(cfg, 6)))


@pytest.mark.parametrize("cfg", [c for c in CASES if c.num_classes], ids=ids)
def test_the_label_changes_the_output(cfg):
    torch.manual_seed(0)
    G, D = build_generator(cfg), build_discriminator(cfg)
    G.eval()
    with torch.no_grad():  # as after a step of training: a G may start blind to the label (g_cond=cbn)
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    z = torch.randn(10, cfg.z_dim)
    a, b = G(z, labels(cfg, 10)), G(z, labels(cfg, 10, offset=1))
    assert (a - b).abs().amax(dim=(1, 2, 3)).min() > 0  # every image, not just some
    assert not torch.allclose(D(a, labels(cfg, 10)), D(a, labels(cfg, 10, offset=1)))
    sevens = G.sample(4, seed=0, digit=7)
    assert torch.equal(sevens, G.generate(G.noise(4, 0), torch.full((4,), 7)))
    with pytest.raises(ConfigError, match="between 0 and 9"):
        G.sample(2, digit=10)


@pytest.mark.parametrize("cfg", CASES, ids=ids)
def test_labels_are_required_exactly_when_conditional(cfg):
    G = build_generator(cfg)
    z = torch.randn(2, cfg.z_dim)
    wrong = None if cfg.num_classes else torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="conditional" if cfg.num_classes else "unconditional"):
        G(z, wrong)
    if not cfg.num_classes:
        with pytest.raises(ConfigError, match="unconditional"):
            G.sample(2, digit=3)


@pytest.mark.parametrize("cfg", CASES, ids=ids)
def test_discriminator_scores_each_image_on_its_own(cfg):
    torch.manual_seed(0)
    D = build_discriminator(cfg)
    x, y = torch.rand(6, cfg.img_channels, 28, 28) * 2 - 1, labels(cfg, 6)
    # Training mode, where batch norm would mix the batch; spectral norm's power iteration
    # (moving its estimate each call) and dropout (random each call) also act there, so
    # those cases compare in eval mode.
    D.train(not cfg.spectral_norm and not cfg.dropout_d)
    whole = D(x, y)
    m = cfg.pack  # a packed D: each pack on its own
    one_by_one = torch.cat([D(x[i : i + m], None if y is None else y[i : i + m]) for i in range(0, 6, m)])
    torch.testing.assert_close(whole, one_by_one)


@pytest.mark.parametrize("cfg", [c for c in CASES if c.pack > 1], ids=ids)
def test_a_packed_d_scores_each_pack_from_all_its_images(cfg):
    torch.manual_seed(0)
    D = build_discriminator(cfg).eval()
    x = torch.rand(4, cfg.img_channels, 28, 28) * 2 - 1
    moved = x.clone()
    moved[1] = -moved[1]  # the second image of the first pack
    before, after = D(x), D(moved)
    assert before[0] != after[0] and before[1] == after[1]
    assert D(x[[1, 0, 2, 3]])[0] != before[0]  # the order within a pack is its channels' order
    with pytest.raises(ValueError, match="packs of 2 images: got 3"):
        D(x[:3])


@pytest.mark.parametrize("cfg", [c for c in CASES if c.img_channels == 3], ids=ids)
def test_a_weights_file_records_its_channels_and_one_without_them_is_grey(cfg, tmp_path):
    G = build_generator(cfg)
    assert G.args["img_channels"] == 3
    args = {k: v for k, v in build_generator(dataclasses.replace(cfg, img_channels=1)).args.items()
            if k != "img_channels"}  # a file written before channels were recorded
    assert rebuild_generator(cfg.arch, args).img_channels == 1
    with pytest.raises(ConfigError, match="takes 3-channel images but mnist has 1-channel images"):
        G.check_channels(1, "mnist")


def test_img_channels_is_grey_or_rgb():
    with pytest.raises(ConfigError, match="model.img_channels must be 1 .grey. or 3 .RGB., got 2"):
        ModelConfig(img_channels=2)


def test_an_architecture_without_spectral_norm_refuses_it_in_one_line():
    with pytest.raises(ConfigError, match="model.spectral_norm does not apply to model.arch='resnet'"):
        check_arch(ModelConfig(arch="resnet", spectral_norm=True))


def test_resnet_blocks_start_as_the_identity():
    """Fix-up: each residual branch's last conv starts at zero, so a new block passes its input through."""
    from mnistgan.models.resnet import Block

    block = Block(32, blocks_in_net=6, slope=0.2)
    x = torch.randn(2, 32, 7, 7)
    torch.testing.assert_close(block(x), x, rtol=0, atol=0)


def test_resnet_generator_is_linear_while_training_and_in_range_in_eval_mode():
    """A tanh saturated on the normalisation-free G (and it stopped using z); D trains on the linear
    output, and every image handed out is clamped to [-1, 1]."""
    G = build_generator(ModelConfig(arch="resnet", channels=16, depth=1))
    with torch.no_grad():
        G.out.bias.fill_(3.0)  # pushes every pixel above the range
    z = torch.randn(4, G.z_dim)
    assert G(z).min() > 1  # training: as the last conv says
    assert G.generate(z).max() == 1  # eval mode: clamped
    assert G.training  # generate() leaves the mode as it was


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_channels_d_sets_the_discriminators_width_alone(arch):
    cfg = ModelConfig(arch=arch, z_dim=8, channels=4, channels_d=6, num_classes=10)
    wide = build_discriminator(cfg)
    assert wide.args["channels"] == 6 and build_generator(cfg).args["channels"] == 4
    same = build_discriminator(dataclasses.replace(cfg, channels_d=0))
    assert same.args["channels"] == 4
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in same.parameters())


def test_class_batch_norm_gives_each_class_its_own_gain_and_bias():
    """model.g_cond=cbn: the batch statistics are shared, the affine step is the label's."""
    G = build_generator(ModelConfig(arch="dcgan", z_dim=8, channels=4, num_classes=10, g_cond="cbn"))
    G.eval()
    z, y = torch.randn(10, 8), torch.arange(10)
    before = G(z, y)
    torch.testing.assert_close(before[0], G(z[:1], torch.tensor([1]))[0])  # starts as plain batch norm
    with torch.no_grad():
        G.up[1].gain.weight[3].mul_(2.0)  # class 3's gain at 14x14
        G.fc[1].bias.weight[5].add_(0.5)  # class 5's bias at 7x7
    after = G(z, y)
    changed = (after - before).abs().amax(dim=(1, 2, 3)) > 0
    assert changed.tolist() == [i in (3, 5) for i in range(10)]


def test_concat_joins_the_labels_one_hot_to_z():
    G = build_generator(ModelConfig(arch="dcgan", z_dim=8, channels=4, num_classes=10, g_cond="concat"))
    assert G.embed is None and G.fc[0].in_features == 8 + 10
    with torch.no_grad():
        G.fc[0].weight[:, 8 + 4].zero_()  # the column class 4's one-hot meets
    G.eval()
    z = torch.randn(3, 8)
    # class 4 now draws what a label of all zeros would: G(z) through the noise columns alone
    expected = G.up(G.fc[2](G.fc[1](z @ G.fc[0].weight[:, :8].T)).view(3, -1, 7, 7))
    torch.testing.assert_close(G(z, torch.full((3,), 4)), expected)


@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_g_cond_other_than_scale_is_dcgans_alone(arch):
    with pytest.raises(ConfigError, match=f"model.g_cond='cbn' applies to model.arch='dcgan' only"):
        build_generator(ModelConfig(arch=arch, num_classes=10, g_cond="cbn"))
    with pytest.raises(ConfigError, match="model.g_cond: unknown 'film' .choose from scale, concat, cbn."):
        ModelConfig(arch="dcgan", g_cond="film")


def test_d_head_reads_ds_features_through_one_hidden_layer_and_projects_there():
    D = build_discriminator(ModelConfig(arch="dcgan", channels=4, d_head=12, num_classes=10))
    plain = build_discriminator(ModelConfig(arch="dcgan", channels=4, num_classes=10))
    assert D.out.in_features == D.embed.embedding_dim == 12 and plain.out.in_features == 2 * 4 * 49
    x, y = torch.rand(5, 1, 28, 28) * 2 - 1, torch.arange(5)
    features = D.net[:5](x)  # [5, 2 * 4 * 49]: the two convolutions, flattened, as in the plain D
    assert features.shape == (5, plain.out.in_features)
    h = torch.nn.functional.leaky_relu(D.net[5](features), 0.2)  # [5, 12]: the head's features
    torch.testing.assert_close(D(x, y), D.out(h).squeeze(1) + (D.embed(y) * h).sum(1))


@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_d_head_is_dcgans_alone(arch):
    with pytest.raises(ConfigError, match="model.d_head applies to model.arch='dcgan' only"):
        build_discriminator(ModelConfig(arch=arch, d_head=16))


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_a_projection_ds_class_logits_are_its_score_less_the_label_free_term(arch):
    D = build_discriminator(ModelConfig(arch=arch, channels=4, depth=1, num_classes=10))
    x, y = torch.rand(5, 1, 28, 28) * 2 - 1, torch.tensor([3, 1, 4, 1, 5])
    h = D.features(x)
    logits = D.class_logits(h)  # [5, 10]
    torch.testing.assert_close(D(x, y), D.out(h).squeeze(1) + logits[torch.arange(5), y])
    with pytest.raises(ValueError, match="unconditional: it has no class logits"):
        build_discriminator(ModelConfig(arch=arch, channels=4, depth=1)).class_logits(h)


@pytest.mark.parametrize("model", [ModelConfig(arch="dcgan"), ModelConfig(arch="mlp", num_classes=10),
                                   ModelConfig(arch="dcgan", num_classes=10, spectral_norm=True)],
                         ids=["unconditional", "mlp", "spectral-norm"])
def test_cls_weight_needs_a_conditional_projection_d(model):
    with pytest.raises(ConfigError, match="loss.cls_weight needs a conditional dcgan or resnet D"):
        RunConfig(model=model, loss=LossConfig(name="rpgan", cls_weight=0.1))
