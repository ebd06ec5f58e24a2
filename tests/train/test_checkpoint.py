"""Checkpoint files: atomic, pruned, and never a way to run code."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from mnistgan.config import load_config
from mnistgan.errors import CheckpointError
from mnistgan.sample import load_generator
from mnistgan.io import state as checkpoint
from mnistgan.io.weights import save_generator
from mnistgan.train.state import init_state


def _state(epoch=1):
    cfg = load_config(overrides=["train.grid_size=4"])
    st = init_state(cfg, torch.device("cpu"))
    st.epoch = epoch
    return cfg, st


def test_save_keeps_the_last_k_and_loads_back(tmp_path):
    cfg, st = _state()
    for e in (1, 2, 3):
        st.epoch = e
        checkpoint.save_state(tmp_path, st.state_dict(cfg), keep=2)
    assert [p.name for p in checkpoint.list_states(tmp_path)] == ["state-000002.pt", "state-000003.pt"]
    assert not list((tmp_path / "checkpoints").glob(".*tmp"))  # no temp files left behind
    loaded = checkpoint.load_state(checkpoint.list_states(tmp_path)[-1])
    assert loaded["epoch"] == 3 and loaded["package_version"]
    assert checkpoint.config_of(loaded, tmp_path) == cfg
    assert torch.equal(loaded["G"]["net.0.weight"], st.G.net[0].weight)


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "state-000001.pt"
    cfg, st = _state()
    evil = st.state_dict(cfg) | {"format": checkpoint.STATE_FORMAT, "format_version": 1,
                                     "package_version": "0", "extra": _Payload(marker)}
    torch.save(evil, path)
    with pytest.raises(CheckpointError, match="refused") as e:
        checkpoint.load_state(path)
    assert "\n" not in str(e.value)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load_generator(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the foreign protocol, then refuses
def test_a_plain_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "x.pt"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError):
        checkpoint.load_state(path)
    assert not marker.exists()


def test_truncated_and_foreign_checkpoints(tmp_path):
    cfg, st = _state()
    good = checkpoint.save_state(tmp_path, st.state_dict(cfg), keep=2)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        checkpoint.load_state(cut)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not an mnistgan training-state"):
        checkpoint.load_state(foreign)
    partial = tmp_path / "partial.pt"
    torch.save({"format": checkpoint.STATE_FORMAT, "format_version": 1, "epoch": 1}, partial)
    with pytest.raises(CheckpointError, match="missing"):
        checkpoint.load_state(partial)


def test_generator_weights_roundtrip_and_refusals(tmp_path):
    cfg, st = _state()
    path = tmp_path / "generator.safetensors"
    save_generator(path, st.G, cfg, epoch=1)
    G = load_generator(path)
    assert torch.equal(G.sample(4, seed=0), st.G.sample(4, seed=0))
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="not an mnistgan generator"):
        load_generator(plain)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_generator(junk)
    wrong = tmp_path / "wrong.safetensors"
    small = init_state(load_config(overrides=["model.hidden=8", "train.grid_size=4"]), torch.device("cpu")).G
    small.args = dict(small.args, hidden=16)  # its metadata claims another width than its weights have
    save_generator(wrong, small, cfg, epoch=1)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_generator(wrong)
