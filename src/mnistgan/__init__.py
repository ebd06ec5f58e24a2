"""mnistgan: train, evaluate and sample GANs that draw 28x28 digits.

    import mnistgan
    G = mnistgan.load("best")  # a shipped generator: nothing to train (mnistgan pretrained lists them)
    images = G.sample(16, seed=0, digit=7)  # [16, 1, 28, 28] in [-1, 1]
    cfg = mnistgan.load_config("classic", overrides=["train.epochs=5"])
    state = mnistgan.train(cfg, mnistgan.new_run_dir(Path("runs"), cfg))
    G = mnistgan.load_generator("runs/00000-classic-mnist")
    images = G.sample(16, seed=0)  # [16, 1, 28, 28] in [-1, 1]; digit=7 for a conditional G
    result, _ = mnistgan.evaluate("runs/00000-classic-mnist", n=2000)
    print(mnistgan.format_table(result))
    spec = mnistgan.SweepSpec(name="smoothing", seeds=(0, 1, 2), grid=(("loss.label_smoothing", (0.0, 0.1)),))
    sweep = mnistgan.run_sweep(spec, Path("sweeps"))  # sweeps/00000-smoothing/summary.md, sweep.html

examples/tour.ipynb walks through this API.
"""

from mnistgan._version import __version__
from mnistgan.config import PRESETS, DataConfig, EvalConfig, LossConfig, ModelConfig, RunConfig, TrainConfig, load_config
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import CheckpointError, ConfigError, DataError, MnistganError
from mnistgan.models import Discriminator, Generator
from mnistgan.sample import load, load_discriminator, load_generator, sample_uint8
from mnistgan.train.loop import train
from mnistgan.runfolder import new_run_dir
from mnistgan.eval.evaluate import evaluate_source as evaluate
from mnistgan.eval.table import format_table
from mnistgan.data.importer import import_dataset
from mnistgan.runtable import list_runs
from mnistgan.card import write_card
from mnistgan.export.onnx import export_onnx
from mnistgan.sweep import SweepSpec, run_sweep

__all__ = [
    "__version__", "PRESETS", "DataConfig", "EvalConfig", "LossConfig", "ModelConfig", "RunConfig", "TrainConfig",
    "load_config",
    "Sources", "load_split", "CheckpointError", "ConfigError", "DataError", "MnistganError",
    "Generator", "Discriminator", "load", "load_generator", "load_discriminator", "sample_uint8", "train", "new_run_dir",
    "evaluate", "format_table", "import_dataset", "list_runs", "write_card", "export_onnx", "SweepSpec", "run_sweep",
]
