"""`mnistgan train --tensorboard`: the event files hold what metrics.jsonl holds (read back
with TensorBoard's own EventAccumulator), the grids as images, the health events as text."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from mnistgan.cli import main  # noqa: E402
from mnistgan.train import tensorboard as tb  # noqa: E402
from tests.conftest import TINY_RUN  # noqa: E402

TINY = [*TINY_RUN, "--set", "train.log_every=2", "--eval-every", "1"]


def _read(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def _lines(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_event_files_mirror_metrics_jsonl(tiny, tmp_path, capsys):
    _, folder = tiny
    assert main(["train", *TINY, "--tensorboard", "--outdir", str(tmp_path / "runs"), "--data-dir", str(folder)]) == 0
    run = tmp_path / "runs" / "00000-classic-tiny"
    assert f"tensorboard --logdir {run / 'tensorboard'}" in capsys.readouterr().out
    acc = _read(run / "tensorboard")
    tags = acc.Tags()
    lines = _lines(run)
    train_lines = [r for r in lines if "d_loss" in r]
    got = [(e.step, e.value) for e in acc.Scalars("train/d_loss")]
    assert got == [(r["step"], pytest.approx(r["d_loss"], rel=1e-6)) for r in train_lines]
    for tag in ("train/g_loss", "D/real", "D/fake", "speed/img_per_s", "health/diversity", "eval/fid_lenet",
                "floor/fid_lenet", "eval/best_fid", "eval/recall", "floor/recall"):
        assert tag in tags["scalars"], tag
    evals = [r for r in lines if "eval" in r]
    assert [e.value for e in acc.Scalars("floor/fid_lenet")] == pytest.approx([r["floor"]["fid_lenet"] for r in evals])
    images = acc.Images("samples/fixed_noise")  # one grid per epoch, at the epoch's last step
    assert [i.step for i in images] == [r["step"] for r in lines if "health" in r]
    assert (images[0].width, images[0].height) == (3 * 30 + 2, 3 * 30 + 2)  # 9 samples, 3 per row
    assert "custom_scalars__config__" in tags["tensors"]  # each metric on one chart with its floor


def test_health_events_are_text_and_a_resume_drops_the_replaced_steps(tiny, tmp_path):
    _, folder = tiny
    out = tmp_path / "runs"
    assert main(["train", *TINY, "--tensorboard", "--outdir", str(out), "--data-dir", str(folder)]) == 0
    run = out / "00000-classic-tiny"
    # Resume from epoch 1 as if epoch 2 had never finished: its events must not be counted twice.
    (run / "checkpoints" / "state-000002.pt").unlink()
    assert main(["train", "--resume", str(run), "--set", "train.epochs=3", "--tensorboard",
                 "--data-dir", str(folder)]) == 0
    acc = _read(run / "tensorboard")
    steps = [e.step for e in acc.Scalars("train/d_loss")]
    assert steps == sorted(set(steps)) and steps == [r["step"] for r in _lines(run) if "d_loss" in r]
    # Health events: text at their step.
    log = tb.TensorBoardLog(tmp_path / "tb")
    log.line({"epoch": 3, "step": 12, "event": "collapse", "message": "G draws one image"})
    log.close()
    texts = _read(tmp_path / "tb" / "tensorboard").Tensors("health_events/text_summary")
    assert texts[0].step == 12
    assert b"**collapse**: G draws one image" in texts[0].tensor_proto.string_val[0]


def test_off_by_default_writes_nothing(tiny, tmp_path):
    _, folder = tiny
    assert main(["train", *TINY, "--outdir", str(tmp_path / "runs"), "--data-dir", str(folder)]) == 0
    assert not (tmp_path / "runs" / "00000-classic-tiny" / "tensorboard").exists()


def test_without_the_package_it_is_one_line_before_training(tiny, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("no tensorboard")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    _, folder = tiny
    assert main(["train", *TINY, "--tensorboard", "--outdir", str(tmp_path / "runs"), "--data-dir", str(folder)]) == 2
    assert "pip install 'mnistgan[tensorboard]'" in capsys.readouterr().err
    assert not any((tmp_path / "runs").iterdir())  # the run folder was removed: nothing had started
