"""Hostile files for every loader (training state, weights, config, evaluator): flipped
bytes, truncation, huge sizes in metadata, random bytes, pickles that would run code.
Each is refused with one line naming the file, or (a flip in bytes that carry nothing)
loads exactly what was saved. No code ever runs."""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import random
import struct
import zipfile

import pytest
import torch
from safetensors.torch import save as save_safetensors

from mnistgan.config import load_config, read_config
from mnistgan.errors import MnistganError
from mnistgan.eval import evaluator as E
from mnistgan.sample import load_generator
from mnistgan.io import state as checkpoint
from mnistgan.io.weights import GENERATOR_FORMAT, _digest, load_generator_file, save_generator
from mnistgan.train.state import init_state

CFG = load_config(overrides=["model.hidden=8", "model.z_dim=4", "train.grid_size=4"])


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _evaluator_files(tmp_path):
    """A cached evaluator (weights + the record of their sha256), and how to load it."""
    recipe = E.EvaluatorRecipe(dataset="mnist", seed=123)
    weights, info = E._paths(tmp_path / "cache", recipe)
    weights.parent.mkdir(parents=True)
    weights.write_bytes(save_safetensors({k: v.contiguous() for k, v in E.EvaluatorNet().state_dict().items()}))
    import hashlib

    info.write_text(json.dumps({"sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "test_accuracy": 0.5}))
    return weights, lambda: E.load_evaluator(recipe, tmp_path / "cache").net.state_dict()


@pytest.fixture
def loaders(tmp_path):
    """name -> (file, load() -> content, original content)."""
    st = init_state(CFG, torch.device("cpu"))
    state = checkpoint.write_state(tmp_path / "state.pt", st.state_dict(CFG))
    weights = tmp_path / "generator.safetensors"
    save_generator(weights, st.G, CFG, epoch=1)
    config = tmp_path / "config.json"
    config.write_text(CFG.to_json())
    ev, load_ev = _evaluator_files(tmp_path)
    out = {
        "state": (state, lambda: checkpoint.load_state(state)),
        "weights": (weights, lambda: load_generator_file(weights)),
        "config": (config, lambda: read_config(config)),
        "evaluator": (ev, load_ev),
    }
    return {k: (path, load, load()) for k, (path, load) in out.items()}


def _refused(load, path) -> str:
    with pytest.raises(MnistganError) as e:
        load()
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg
    return msg


@pytest.mark.parametrize("name", ["state", "weights", "config", "evaluator"])
def test_flipped_bytes_are_refused_or_harmless(loaders, name):
    path, load, original = loaders[name]
    good = path.read_bytes()
    rng = random.Random(name)
    refused = 0
    for pos in rng.sample(range(len(good)), 40):
        flipped = bytearray(good)
        flipped[pos] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        try:
            got = load()
        except MnistganError as e:
            assert str(path) in str(e) and "\n" not in str(e)
            refused += 1
            continue
        # Loaded: only a flip in bytes that carry nothing (zip padding, JSON layout) or, in
        # config.json (plain text, no checksum), a still-valid value may get here.
        assert name == "config" or _same(got, original), f"flip at {pos} changed {name} silently"
    assert refused >= (20 if name != "config" else 10)


@pytest.mark.parametrize("name", ["state", "weights", "config", "evaluator"])
def test_truncation_random_bytes_and_pickles_are_refused(loaders, name, tmp_path):
    path, load, _ = loaders[name]
    good = path.read_bytes()
    for cut in (0, 1, 7, 8, 100, len(good) // 2, len(good) - 1):
        path.write_bytes(good[:cut])
        _refused(load, path)
    path.write_bytes(random.Random(1).randbytes(5000))
    msg = _refused(load, path)
    assert "could run code" not in msg  # random bytes are not called a dangerous pickle
    marker = tmp_path / "pwned"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    _refused(load, path)
    assert not marker.exists()


def test_a_png_or_random_bytes_given_as_a_checkpoint_say_what_they_are(loaders):
    path, load, _ = loaders["state"]
    from mnistgan.images import png_bytes

    path.write_bytes(png_bytes(torch.zeros(8, 8, dtype=torch.uint8).numpy()))
    assert "not a training-state file (a PNG image)" in _refused(load, path)
    path.write_bytes(b"\x13" * 300)
    assert "not a training-state file (not a zip archive)" in _refused(load, path)


def test_a_state_pickle_that_would_run_code_is_refused(loaders, tmp_path):
    path, load, _ = loaders["state"]
    marker = tmp_path / "pwned"
    evil = checkpoint.load_state(path) | {"extra": _Payload(marker)}
    torch.save(evil, path)
    assert "refused: it holds objects other than tensors, which could run code" in _refused(load, path)
    assert not marker.exists()


def test_huge_sizes_in_metadata_are_refused_before_allocating(loaders, tmp_path):
    # A zip member claiming 2 GB: the CRC check reads what is there and fails.
    path, load, _ = loaders["state"]
    data = bytearray(path.read_bytes())
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    member = next(i for i in zf.infolist() if i.filename.endswith("data/0"))
    # The member's central-directory entry: its name follows a 46-byte header whose
    # uncompressed size sits at offset 24.
    at = data.find(member.filename.encode(), data.find(b"PK\x01\x02")) - 46 + 24
    assert struct.unpack("<I", data[at : at + 4])[0] == member.file_size
    data[at : at + 4] = struct.pack("<I", 2**31)
    path.write_bytes(bytes(data))
    _refused(load, path)
    # A safetensors header claiming an enormous length.
    wpath, wload, _ = loaders["weights"]
    good = wpath.read_bytes()
    wpath.write_bytes(struct.pack("<Q", 2**60) + good[8:])
    assert "more than the file holds" in _refused(wload, wpath)
    # A consistent weights file (right sha256) whose config asks for 10 million hidden units.
    meta = {"format": GENERATOR_FORMAT, "format_version": "1", "package_version": "0",
            "epoch": "1", "config": json.dumps(CFG.to_dict() | {"model": CFG.to_dict()["model"] | {"hidden": 10**7}})}
    tensors = {"w": torch.zeros(2)}
    meta["sha256"] = _digest(meta, tensors)
    wpath.write_bytes(save_safetensors(tensors, metadata=meta))
    assert "model.hidden must be between 1 and 8192" in _refused(lambda: load_generator(wpath), wpath)
    # The same in a training state and in config.json.
    spath = tmp_path / "huge.pt"
    torch.save(_huge_state(), spath)
    assert "model.hidden must be between 1 and 8192" in _refused(lambda: load_generator(spath), spath)
    cpath = loaders["config"][0]
    cpath.write_text(json.dumps({"model": {"hidden": 10**7}}))
    assert "model.hidden must be between 1 and 8192" in _refused(lambda: read_config(cpath), cpath)


def _huge_state():
    st = init_state(CFG, torch.device("cpu"))
    saved = st.state_dict(CFG) | {"format": checkpoint.STATE_FORMAT, "format_version": 1, "package_version": "0"}
    saved["config"] = json.dumps(CFG.to_dict() | {"model": CFG.to_dict()["model"] | {"hidden": 10**7}})
    return saved


def test_resume_takes_the_newest_state_that_verifies_and_says_which_it_skipped(tiny, tmp_path, caplog):
    from mnistgan.config import load_config as cfg_of
    from mnistgan.data.sources import Sources
    from mnistgan.train.loop import train

    _, data = tiny
    cfg = cfg_of(overrides=["data.name='tiny'", "train.batch_size=50", "train.grid_size=4", "eval.every=0",
                            "train.epochs=3", "train.checkpoint_every_s=0"])
    src = Sources(data_dir=data, download=False)
    whole = train(cfg, tmp_path / "whole", sources=src)
    train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=2)), tmp_path / "r", sources=src)
    newest = checkpoint.list_states(tmp_path / "r")[-1]
    newest.write_bytes(newest.read_bytes()[:3000])  # truncated
    with caplog.at_level("INFO"):
        resumed = train(cfg, tmp_path / "r", sources=src, resume=True)
    assert f"skipping {newest}: corrupt or truncated checkpoint" in caplog.text
    assert "renamed it to state-000002.pt.damaged" in caplog.text and "from state-000001.pt" in caplog.text
    assert all(torch.equal(a, b) for a, b in zip(whole.G.state_dict().values(), resumed.G.state_dict().values()))


def test_rotation_never_deletes_the_newest_healthy_state(tmp_path):
    st = init_state(CFG, torch.device("cpu"))
    for epoch in (1, 2):
        st.epoch = epoch
        checkpoint.save_state(tmp_path, st.state_dict(CFG), keep=1)
    assert [p.name for p in checkpoint.list_states(tmp_path)] == ["state-000002.pt"]
    with torch.no_grad():
        st.G.net[0].weight[0, 0] = float("nan")  # a diverged state, saved through the API
    st.epoch = 3
    checkpoint.save_state(tmp_path, st.state_dict(CFG), keep=1)
    assert [p.name for p in checkpoint.list_states(tmp_path)] == ["state-000002.pt", "state-000003.pt"]
    with pytest.raises(MnistganError, match="state-000003.pt: G.net.0.weight holds NaN or infinite values"):
        checkpoint.load_state(checkpoint.list_states(tmp_path)[-1])
