"""A trained generator as one ONNX file, so it runs where torch is not installed.

    export_onnx(Path("runs/00000-classic-mnist"), Path("generator.onnx"))

The graph (opset 17, a dynamic batch N):
    inputs   z      float32 [N, z_dim]      standard normal noise
             label  int64   [N]             only for a conditional model, in [0, num_classes)
    output   images float32 [N, C, 28, 28]  in [-1, 1] (G's tanh); (x + 1) * 127.5 gives pixels
                                            (C = 1 grey; 3 RGB: stacked-mnist, colour imports)

The weights are the ones `sample` uses (a run folder's best generator unless `last`; the
EMA weights when the run kept an EMA, since generator*.safetensors hold those). Eval mode
folds BatchNorm into constants, and any parametrization (spectral norm) is folded into
plain weights first. The file's metadata_props name z_dim, num_classes, img_channels, the class
names, the preset and the epoch, so a reader needs nothing else. After writing, the file
is run with onnxruntime on a seeded batch and compared with torch.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import RunConfig
from mnistgan.data.datasets import class_names
from mnistgan.errors import ConfigError
from mnistgan.models import Generator
from mnistgan.sample import load_generator_from

OPSET = 17
TOLERANCE = 1e-4  # max abs difference from torch, on outputs in [-1, 1]
CHECK_BATCH = 16


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(f"export needs {module}: pip install 'mnistgan[export]'") from None


def fold_parametrizations(model: nn.Module) -> nn.Module:
    """A copy of `model` in which every parametrized weight (spectral norm) is a plain
    parameter holding its current value: W / sigma with the stored power-iteration vectors.

    Not torch's remove_parametrizations on a deepcopy: that deletes the weight property
    from the parametrized class, which the copy shares with the original module."""
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if parametrize.is_parametrized(module):
            with torch.no_grad():
                values = {name: getattr(module, name).detach().clone() for name in module.parametrizations}
            module.__class__ = module.__class__.__bases__[0]  # torch's Parametrized<X> subclasses X
            del module.parametrizations
            for name, value in values.items():
                module.register_parameter(name, nn.Parameter(value, requires_grad=False))
    return model


def inputs_for(G: Generator, n: int, seed: int) -> dict[str, np.ndarray]:
    """The graph's inputs for `G.sample(n, seed)`: the same noise, and balanced labels."""
    feeds = {"z": G.noise(n, seed).numpy()}
    labels = G.labels(n)
    if labels is not None:
        feeds["label"] = labels.numpy()
    return feeds


def onnx_bytes(G: Generator, metadata: dict[str, str] | None = None) -> bytes:
    """G (eval mode, parametrizations folded) as an ONNX model with a dynamic batch."""
    _require("onnx")
    import onnx

    model = fold_parametrizations(G).cpu()  # G(z, y): the graph names its inputs z and label
    feeds = inputs_for(G.cpu(), 2, 0)
    args = tuple(torch.from_numpy(v) for v in feeds.values())
    names = list(feeds)
    dynamic = {name: {0: "N"} for name in [*names, "images"]}
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer notes: nothing to act on
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, input_names=names, output_names=["images"], dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def max_difference(model: bytes, G: Generator, n: int = CHECK_BATCH, seed: int = 0) -> float:
    """Max abs difference between onnxruntime's images and torch's for the same seeded batch."""
    _require("onnxruntime")
    import onnxruntime as ort

    feeds = inputs_for(G, n, seed)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    (got,) = session.run(["images"], feeds)
    want = G.sample(n, seed=seed).cpu().numpy()
    return float(np.abs(got - want).max())


def metadata_of(G: Generator, cfg: RunConfig, epoch: int | None) -> dict[str, str]:
    classes = class_names(cfg.data.name, G.num_classes) if G.num_classes else []
    return {"mnistgan.z_dim": str(G.z_dim), "mnistgan.num_classes": str(G.num_classes),
            "mnistgan.img_channels": str(G.img_channels),
            "mnistgan.classes": json.dumps(classes), "mnistgan.preset": cfg.preset,
            "mnistgan.dataset": cfg.data.name, "mnistgan.epoch": "" if epoch is None else str(epoch),
            "mnistgan.output": f"images [N, {G.img_channels}, 28, 28] in [-1, 1]"}


def export_model(source: Path, last: bool = False) -> tuple[bytes, dict[str, str], float]:
    """The generator of `source` (a run folder, weights or state file) as ONNX bytes, its
    metadata and its max abs difference from torch, checked against TOLERANCE."""
    _require("onnx")
    _require("onnxruntime")
    g = load_generator_from(source, last=last)
    G, metadata = g.G, metadata_of(g.G, g.cfg, g.epoch)
    model = onnx_bytes(G, metadata)
    diff = max_difference(model, G)
    if not diff <= TOLERANCE:
        raise ConfigError(f"the ONNX graph differs from torch by {diff:.3g} (more than {TOLERANCE:g}); nothing written")
    return model, metadata, diff


def export_onnx(source: Path, out: Path, last: bool = False) -> tuple[Path, float]:
    """Write the generator of `source` to `out` as ONNX, atomically; return the path and
    the max abs difference from torch (more than TOLERANCE is an error: nothing is written)."""
    if out.is_dir():
        raise ConfigError(f"{out}: a folder; --out needs a file name")
    model, _, diff = export_model(source, last)
    return atomic_write_bytes(out, model), diff
