"""Where training logs go: metrics.jsonl always (the primary log), and TensorBoard event
files under RUN/tensorboard/ with `mnistgan train --tensorboard` (the `tensorboard` extra).

    log = RunLog(run_dir, writer, tensorboard=True, resume_step=state.step)
    log.line({"epoch": 1, "step": 600, "d_loss": ...})   # metrics.jsonl + TensorBoard, by the writer
    log.grid(600, grid)                                   # TensorBoard only (the PNG is saved anyway)

Every TensorBoard value is a metrics.jsonl line seen again, at the same training step:
- train/d_loss, train/g_loss, train/gp, train/r1; D/real and D/fake, the mean D(x) and
  D(G(z)) (probabilities for BCE; raw scores for hinge and WGAN-GP, where only their gap
  means something); speed/img_per_s;
- health/d_loss, health/d_fake, health/diversity (the epoch means the monitor judges);
- eval/<metric> and floor/<metric> from the light evaluation, shown on one chart each
  (a custom-scalars layout), and eval/best_fid;
- samples/fixed_noise, the epoch's fixed-noise grid, as an image;
- health events as text (tag "health_events").
On resume, events logged after the resumed step are dropped (SummaryWriter's purge_step),
as they are from metrics.jsonl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mnistgan import runfolder
from mnistgan.errors import ConfigError
from mnistgan.train.writer import Writer

FOLDER = "tensorboard"
_TRAIN = {"d_loss": "train/d_loss", "g_loss": "train/g_loss", "gp": "train/gp", "r1": "train/r1",
          "d_real": "D/real", "d_fake": "D/fake", "img_per_s": "speed/img_per_s"}


def require() -> type:
    """torch's SummaryWriter; a one-line error when the tensorboard package is missing
    (checked before a run writes its first file)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install 'mnistgan[tensorboard]'") from None
    return SummaryWriter


class TensorBoardLog:
    """Mirrors metrics.jsonl lines and the epoch grids into RUN/tensorboard/."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        # On resume, TensorBoard drops what earlier sessions logged at steps >= purge_step.
        purge = resume_step + 1 if resume_step is not None else None
        self.writer = require()(str(run_dir / FOLDER), purge_step=purge, flush_secs=10)
        self.layout_written = False

    def line(self, record: dict[str, Any]) -> None:
        step = int(record.get("step", 0))
        w = self.writer
        for key, tag in _TRAIN.items():
            if isinstance(record.get(key), (int, float)):
                w.add_scalar(tag, record[key], step)
        for key, value in (record.get("health") or {}).items():
            w.add_scalar(f"health/{key}", value, step)
        if isinstance(record.get("eval"), dict):
            floor = record.get("floor") or {}
            for key, value in record["eval"].items():
                w.add_scalar(f"eval/{key}", value, step)
                if key in floor:
                    w.add_scalar(f"floor/{key}", floor[key], step)
            if isinstance(record.get("best"), dict):
                w.add_scalar("eval/best_fid", record["best"]["fid_lenet"], step)
            if not self.layout_written:  # each metric beside its floor, on one chart
                w.add_custom_scalars({"light evaluation (beside the real floor)": {
                    key: ["Multiline", [f"eval/{key}", f"floor/{key}"]] for key in record["eval"]}})
                self.layout_written = True
        if isinstance(record.get("event"), str):
            w.add_text("health_events", f"epoch {record.get('epoch')}: **{record['event']}**: {record.get('message', '')}",
                       step)

    def grid(self, step: int, image: np.ndarray) -> None:
        """uint8 [H, W] -> a grayscale image (CHW with one channel); [H, W, 3] -> RGB."""
        if image.ndim == 3:
            self.writer.add_image("samples/fixed_noise", image, step, dataformats="HWC")
        else:
            self.writer.add_image("samples/fixed_noise", image[None], step, dataformats="CHW")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class RunLog:
    """metrics.jsonl, and TensorBoard when asked, written by the run's writer in the
    order logged; writes nothing off rank 0."""

    def __init__(self, run_dir: Path, writer: Writer, *, rank: int = 0, tensorboard: bool = False,
                 resume_step: int | None = None) -> None:
        self.run_dir, self.writer, self.rank = run_dir, writer, rank
        self.tb = TensorBoardLog(run_dir, resume_step) if tensorboard and rank == 0 else None

    def line(self, record: dict[str, Any]) -> None:
        """Queue one line (plain numbers and strings, which nothing changes later)."""
        if self.rank == 0:
            self.writer.submit(lambda: self._write(record))

    def _write(self, record: dict[str, Any]) -> None:
        runfolder.append_metrics(self.run_dir, record)
        if self.tb:
            self.tb.line(record)

    def grid(self, step: int, image: np.ndarray) -> None:
        """The epoch's grid to TensorBoard; called from a writer job."""
        if self.tb:
            self.tb.grid(step, image)

    def close(self) -> None:
        if self.tb:
            self.tb.close()
