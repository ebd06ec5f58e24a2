"""The training loop: one place for the schedule, logging, sample grids and checkpoints.

The maths of a step lives in the loss (mnistgan.losses), its phases in train/step.py;
this file runs epochs of steps, the EMA, stats, callbacks and the time budget. The device,
the fast path (train/fast.py) and the process group (train/distributed.py) are passed
in; under torchrun every rank runs this loop on its shard and only rank 0 writes files.
Files are written by a background writer (train/writer.py) from snapshots, in order:
an epoch's grid, weights and lines, then (when due) its checkpoint. The state is saved
on the cadence of train.checkpoint_every_s (`Checkpoints`), after the last epoch, and when
a SIGINT or SIGTERM arrives (train/stop.py); a resume continues from the exact step, with
the same shuffle. The wall time is split by phase (train/wallclock.py) into status.json.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from mnistgan import runfolder
from mnistgan.config import RunConfig
from mnistgan.data.datasets import DatasetSpec, get_spec, small_set_hint
from mnistgan.data.sources import Sources, load_split
from mnistgan.data.subset import subset_count, subset_rows
from mnistgan.errors import CheckpointError, ConfigError, MnistganError, TrainingStopped, first_line
from mnistgan.hardware import bf16_slowdown_warning, hardware
from mnistgan.images import make_grid, save_png
from mnistgan.io import state as checkpoint
from mnistgan.io.weights import generator_snapshot, write_generator
from mnistgan.losses import build_loss, check_loss
from mnistgan.models import check_arch
from mnistgan.tensors import as_images
from mnistgan.train.augment import HeldOut
from mnistgan.train.budget import budget_event
from mnistgan.train.callbacks import KeepBest
from mnistgan.train.distributed import World
from mnistgan.train.fast import FastPath, Feed, make_feed
from mnistgan.train.health import HealthEvent, HealthMonitor, mean_pairwise_distance, nonfinite
from mnistgan.train.schedule import set_lrs
from mnistgan.train.step import Objective
from mnistgan.train.state import EpochProgress, TrainState, init_state
from mnistgan.train import status as run_status
from mnistgan.train.stop import Stopped, StopRequest
from mnistgan.train.tensorboard import RunLog, require as require_tensorboard
from mnistgan.train.wallclock import WallClock
from mnistgan.train.writer import Writer, snapshot, writing

log = logging.getLogger(__name__)


# Called by rank 0 after each epoch, before its checkpoint, with whether it is the run's
# last epoch and the writer to hand its files to (as snapshots); returns extra fields to
# log, or None.
EpochHook = Callable[[TrainState, RunConfig, Path, bool, Writer], dict[str, Any] | None]


def check_config(cfg: RunConfig, sources: Sources = Sources()) -> None:
    """What can be checked before a run folder exists, without the data: the dataset,
    model and loss names, the classes, and a step's images against the dataset's size.
    `sources` says where imported datasets are (its cache)."""
    spec = get_spec(cfg.data.name, sources.cache_dir)
    check_arch(cfg.model)
    check_loss(cfg.loss)
    check_channels(cfg, spec)
    if spec.base is not None and cfg.model.num_classes:
        raise ConfigError(f"model.num_classes must be 0 on {spec.name}: its 1000 modes measure what an unconditional "
                          f"G covers on its own; got {cfg.model.num_classes}")
    if not spec.labelled and cfg.model.num_classes:
        raise ConfigError(f"model.num_classes must be 0: {spec.name} has no labels, so a conditional model "
                          f"cannot train on it; got {cfg.model.num_classes}")
    if cfg.model.num_classes not in (0, len(spec.classes)):
        raise ConfigError(f"model.num_classes must be 0 (unconditional) or {len(spec.classes)}, the classes of "
                          f"{spec.name}; got {cfg.model.num_classes}")
    if cfg.train.augment == "ada" and cfg.train.ada_signal == "train" and not build_loss(cfg.loss).SIGNED:
        raise ConfigError(f"train.augment=ada adapts to the sign of D's scores on real images, which the "
                          f"{cfg.loss.name} loss's scores do not have (no fixed offset); set "
                          f"train.ada_signal=heldout, or use train.augment=diffaug with {cfg.loss.name}")
    n = subset_count(spec.files["train"][0].shape[0], cfg.data.subset)
    if cfg.train.batch_size * cfg.loss.n_critic > n:
        raise ConfigError(f"train.batch_size {cfg.train.batch_size} x loss.n_critic {cfg.loss.n_critic} exceeds the "
                          f"{n} training images of {spec.name}{' (data.subset)' if cfg.data.subset != 1 else ''}")


def check_channels(cfg: RunConfig, spec: DatasetSpec) -> None:
    """One line naming both counts when the model's images and the dataset's differ in
    channels, and when a light evaluation is asked of images no evaluator scores yet."""
    if cfg.model.img_channels != spec.channels:
        raise ConfigError(f"model.img_channels is {cfg.model.img_channels} but {spec.name} has {spec.channels}-channel "
                          f"images: a model never meets data of another channel count (set "
                          f"model.img_channels={spec.channels})")
    if not spec.scorable and cfg.eval.every:
        raise ConfigError(f"eval.every must be 0 for {spec.name}: no evaluator scores its {spec.channels}-channel "
                          f"colour images yet")


def check_resumable(saved: RunConfig, wanted: RunConfig) -> None:
    """Only the length of the run (epochs, minutes), how often and how many checkpoints
    are kept, how often grids are written, and the light evaluation (none of which changes
    the training) may change on resume; anything else would not continue the same run."""
    train = dataclasses.replace(wanted.train, epochs=saved.train.epochs, keep_checkpoints=saved.train.keep_checkpoints,
                                checkpoint_every_s=saved.train.checkpoint_every_s, minutes=saved.train.minutes,
                                grid_every=saved.train.grid_every)
    same = dataclasses.replace(wanted, train=train, eval=saved.eval)
    if same != saved:
        raise ConfigError("only train.epochs, train.minutes, train.checkpoint_every_s, train.keep_checkpoints, "
                          "train.grid_every and eval.* can be changed when resuming a run")


def grid_images(state: TrainState) -> torch.Tensor:
    """The fixed-noise samples as uint8 [grid_size, (C,) 28, 28] on the CPU (EMA weights when on;
    a conditional model's rows are its classes)."""
    return as_images(state.sampler.generate(state.fixed_noise, state.fixed_labels)).cpu()


def over_budget(state: TrainState, cfg: RunConfig) -> bool:
    """train.minutes counts the time of training steps (state.seconds): not the start,
    the epoch-end work or the light evaluation, which the wall-clock split shows."""
    return bool(cfg.train.minutes) and state.seconds >= cfg.train.minutes * 60


def default_callback(cfg: RunConfig, sources: Sources) -> EpochHook | None:
    """The light evaluation that keeps the best generator, every cfg.eval.every epochs."""
    if not cfg.eval.every:
        return None
    from mnistgan.eval.evaluate import light_scorer  # eval/ never imports train/, so no cycle

    return KeepBest(light_scorer(cfg.data.name, sources, n=cfg.eval.n), cfg.eval.every)


def train(
    cfg: RunConfig,
    run_dir: Path,
    *,
    sources: Sources = Sources(),
    device: str | torch.device = "cpu",
    world: World = World(),
    fast: FastPath = FastPath(),
    resume: bool = False,
    progress: bool = False,
    on_epoch_end: EpochHook | None = None,
    stop: StopRequest | None = None,
    tensorboard: bool = False,
    clock: WallClock | None = None,
    writer: Writer | None = None,
) -> TrainState:
    """Train `cfg` in `run_dir` until cfg.train.epochs epochs are complete, or the first
    epoch end after cfg.train.minutes of training steps.

    With resume=True, continue from the newest checkpoint in run_dir that loads and
    verifies: the result is bitwise the same as an uninterrupted run (on the CPU).
    Unless on_epoch_end is given, the light evaluation keeps the best generator every
    cfg.eval.every epochs (0: never). Everything is checked before the first file is
    written. With world.size > 1 every rank calls this, each with its own device; the
    result is the single-process run at the same train.batch_size, up to floating-point
    summation order. Raises TrainingStopped when the health monitor stops the run, and
    train.stop.Stopped (after saving the state) when `stop` has caught a signal.
    With tensorboard=True, what goes to metrics.jsonl and the grids also go to TensorBoard
    event files in run_dir/tensorboard/ (train/tensorboard.py). The session's wall time,
    split by phase, goes to status.json; `clock` (the CLI's starts at the process's start)
    measures it, by default from this call. `writer` writes the files (by default a
    background Writer whose waits count as epoch-end work).
    """
    clock = clock or WallClock(time.monotonic())
    device, rank = torch.device(device), world.rank
    stop = stop or StopRequest()
    check_config(cfg, sources)
    world.check_batch(cfg.train.batch_size, cfg.model.pack)
    fast.check(device, world.size, cfg.train.augment)
    if cfg.train.augment != "none" and world.size > 1:
        raise ConfigError("train.augment does not combine with multi-process training yet: each rank would "
                          "augment its shard with the same random draws")
    if tensorboard:
        require_tensorboard()
    with clock.phase("data"):
        split = load_split(cfg.data.name, "train", sources)
        rows = subset_rows(split.labels, cfg.data.subset, cfg.data.subset_seed) if cfg.data.subset != 1 else slice(None)
        images, labels = split.images[rows].to(device), split.labels[rows].to(device)  # uint8 [N, (C,) 28, 28], [N]
        # ada's held-out signal compares D on training reals with the test split's
        held = load_split(cfg.data.name, "test", sources) if cfg.train.ada_heldout else None
    hint = small_set_hint(cfg.data.name, images.shape[0]) if cfg.train.augment == "none" else None
    if hint and rank == 0 and not resume:
        log.info("%s", hint)
    obj = Objective.from_config(cfg, device)
    hw = hardware(device)
    if rank == 0:
        log.info("training on %s in %s", hw.describe(), obj.precision)
        warning = bf16_slowdown_warning(cfg.train.precision, hw)
        if warning:
            log.warning("%s", warning)
    hook = on_epoch_end or default_callback(cfg, sources)
    if rank == 0:
        for tmp in runfolder.clean(run_dir):
            log.info("removed %s, left by an interrupted write", tmp)
    state = resume_newest(cfg, run_dir, device, rename=rank == 0) if resume else init_state(cfg, device)
    if held is not None:
        state.augment.heldout = HeldOut(held.images.to(device), held.labels.to(device))  # type: ignore[union-attr]
    for opt in (state.opt_g, state.opt_d):
        world.average_gradients(opt)
    feed = make_feed(state, obj, cfg, fast, images, labels, world)
    if rank == 0:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        runfolder.write_config(run_dir, cfg)
        if resume:
            runfolder.truncate_metrics(run_dir, state.epoch, state.step)
    # A real batch of grid size: the yardstick for the grid's diversity.
    monitor = HealthMonitor(mean_pairwise_distance(images[: cfg.train.grid_size].cpu()), obj.loss.d_won,
                            images_per_epoch=images.shape[0])
    if resume:
        monitor.replay(runfolder.read_metrics(run_dir))
    writer = writer or Writer(waiting=lambda: clock.phase("epoch_end"))
    saves = Checkpoints(cfg, run_dir, stop, writer, rank, every_line=world.size > 1)
    log_to = RunLog(run_dir, writer, rank=rank, tensorboard=tensorboard, resume_step=state.step if resume else None)
    # Where and how this stretch of the run computes (a resume may resolve train.precision anew).
    log_to.line({"epoch": state.epoch, "step": state.step, "start": {
        "hardware": hw.describe(), "device": device.type, "precision": obj.precision, "ranks": world.size}})
    ended_by = lambda: "epochs" if state.epoch >= cfg.train.epochs else "budget"  # noqa: E731
    budget_checked = False  # whether the time budget has been projected from a measured speed
    # status.json says "running", then how the run ended and its wall-clock split; the
    # writer is drained (its failure raised) before the TensorBoard files close.
    with run_status.recorded(run_dir, ended_by, enabled=rank == 0, split=clock.split), closing(log_to), \
            writing(writer):
        while state.epoch < cfg.train.epochs and not over_budget(state, cfg):
            saves.epoch_started()
            clock.switch("steps")
            with stop.deferred():
                means = run_epoch(state, cfg, obj, feed, log_to, world=world, progress=progress, saver=saves,
                                  budget_checked=budget_checked)
            budget_checked = True
            clock.switch("epoch_end")
            state.epoch += 1
            for net in (state.G, state.G_ema):
                world.average_buffers(net)
            writer.check()  # a write that failed since the last epoch end stops the run here
            last = state.epoch == cfg.train.epochs or over_budget(state, cfg)
            end_epoch(state, cfg, run_dir, means, monitor, hook, log_to, saves, clock, rank=rank, progress=progress,
                      last=last)
            if stop.signum is not None:
                writer.flush()
                raise Stopped(stop.signum, str(checkpoint.state_path(run_dir, state.epoch)))
    if over_budget(state, cfg) and rank == 0:
        log.info("stopped after epoch %d: the time budget of training steps, train.minutes=%g, is spent",
                 state.epoch, cfg.train.minutes)
    if rank == 0:
        write_card_or_warn(run_dir, sources)
    return state


def write_card_or_warn(run_dir: Path, sources: Sources) -> None:
    """MODEL_CARD.md at the end of training; a failure to write it is a warning, since the
    training itself is complete and saved."""
    from mnistgan.card import write_card

    try:
        write_card(run_dir, sources.cache_dir)
    except (MnistganError, OSError) as e:
        log.warning("could not write %s: %s", run_dir / "MODEL_CARD.md", first_line(e))


def resume_newest(cfg: RunConfig, run_dir: Path, device: torch.device, rename: bool = True) -> TrainState:
    """The newest state in run_dir that loads and verifies. Newer ones that do not are
    renamed to NAME.damaged (so nothing picks them again; rank 0 alone renames), each
    with a warning."""
    states = checkpoint.list_states(run_dir)
    if not states:
        raise ConfigError(f"{run_dir}: no checkpoint to resume from")
    skipped: list[str] = []
    for path in reversed(states):
        try:
            saved = checkpoint.load_state(path)
            check_resumable(checkpoint.config_of(saved, path), cfg)
            check_device(saved, path, device)
            state = init_state(cfg, device)
            state.load_state_dict(saved, path)
        except CheckpointError as e:
            skipped.append(str(e))
            damaged = path.with_name(path.name + ".damaged")
            if rename:
                path.rename(damaged)
                log.warning("skipping %s; renamed it to %s", e, damaged.name)
            continue
        log.info("resumed %s at epoch %d, step %d from %s%s", run_dir, state.epoch, state.step, path.name,
                 f" (skipped {len(skipped)} newer checkpoint{'s' * (len(skipped) > 1)} that did not verify)"
                 if skipped else "")
        return state
    raise CheckpointError(f"{run_dir}: no checkpoint loads and verifies ({'; '.join(skipped)})")


def check_device(saved: dict, path: Path, device: torch.device) -> None:
    """A run's noise comes from a generator of its device's kind (CPU and CUDA generators
    draw different streams), so it resumes on that kind of device only. A ConfigError:
    the checkpoint is fine, and stays as it is."""
    kind = saved.get("device", device.type)
    if kind != device.type:
        raise ConfigError(f"{path}: this run trained on {kind}; resume it there (--device {kind}), "
                          f"since its random streams are {kind}'s")


def newest_note(run_dir: Path) -> str:
    """What is intact after a failure, for the one-line error."""
    states = checkpoint.list_states(run_dir)
    if not states:
        return "no checkpoint was saved yet"
    return (f"the newest checkpoint, {states[-1]}, is intact; continue with: "
            f"mnistgan train --resume {run_dir}")


class Checkpoints:
    """When the state is saved, on one cadence: train.checkpoint_every_s seconds.

    - At an epoch end, once that long has passed since the last save (0: every epoch end);
      always after the last epoch, and when the run stops on a health failure or a signal.
    - Mid-epoch, once that long has passed both since the last save and since the epoch
      began: only an epoch that alone runs that long is cut, so short epochs save at their
      ends, and a crash loses less than about two intervals of training.
    - Before a step, when `stop` has caught a signal (then raises Stopped).
    With every_line (multi-process training) a mid-epoch save waits for a metrics line,
    when the logged sums are the ranks' mean: the state rank 0 saves is then the same on
    every rank. Only rank 0 writes, through the writer, from a snapshot."""

    def __init__(self, cfg: RunConfig, run_dir: Path, stop: StopRequest, writer: Writer, rank: int,
                 every_line: bool = False) -> None:
        self.cfg, self.run_dir, self.stop, self.writer, self.rank = cfg, run_dir, stop, writer, rank
        self.every, self.every_line = cfg.train.checkpoint_every_s, every_line
        self.last = self.epoch_start = time.monotonic()

    def epoch_started(self) -> None:
        self.epoch_start = time.monotonic()

    def due_at_epoch_end(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def save(self, state: TrainState, mid_epoch: bool = False) -> Path | None:
        """Queue the state's snapshot for writing (rank 0); returns the path it will have."""
        self.last = time.monotonic()
        if self.rank != 0:
            return None
        saved, keep = snapshot(state.state_dict(self.cfg)), self.cfg.train.keep_checkpoints
        self.writer.submit(lambda: checkpoint.save_state(self.run_dir, saved, keep=keep, mid_epoch=mid_epoch))
        return checkpoint.state_path(self.run_dir, state.epoch, state.step if mid_epoch else None)

    def before_step(self, state: TrainState) -> None:
        now = time.monotonic()
        due = self.every and now - self.last >= self.every and now - self.epoch_start >= self.every
        if self.stop.signum is None and not due or self.every_line and state.progress and state.progress.count:
            return
        path = None
        if nonfinite({}, state.networks()) is None:
            path = self.save(state, mid_epoch=True)
        else:
            self.last = now
        if self.stop.signum is not None:
            self.writer.flush()  # the state named in the message is on disk
            raise Stopped(self.stop.signum, str(path) if path else None)


def end_epoch(state: TrainState, cfg: RunConfig, run_dir: Path, means: dict[str, float],
              monitor: HealthMonitor, hook: EpochHook | None, log_to: RunLog, saves: Checkpoints, clock: WallClock,
              *, rank: int, progress: bool, last: bool) -> None:
    """Check health, then (rank 0) hand the writer the grid, the weights, the health and
    callback lines, and last the checkpoint when it is due. A non-finite loss or weight
    stops the run before anything is written."""
    bad = nonfinite({k: means[k] for k in ("d_loss", "g_loss")}, state.networks())
    if bad:
        saves.writer.flush()  # the checkpoint the message names is on disk
        event = HealthEvent("nonfinite", state.epoch, f"epoch {state.epoch}: training diverged ({bad}); "
                            f"nothing of this epoch was saved; {newest_note(run_dir)}")
        log_to.line(event.record(state.step))
        raise TrainingStopped(event.message)
    grid = grid_images(state)
    events = monitor.check(state.epoch, means, grid)  # the same on every rank: same weights, same means
    failures = [e for e in events if e.event != "recovered"]
    stopping = bool(failures) and cfg.train.on_failure == "stop"
    ending = last or stopping or saves.stop.signum is not None
    if rank == 0:
        write_epoch(state, cfg, run_dir, means, monitor, grid, events, hook, log_to, clock, progress=progress,
                    last=last, files=ending or state.epoch % cfg.train.grid_every == 0)
    if ending or saves.due_at_epoch_end():
        # Last: the epoch counts as done once its state is on disk. A crash before this
        # repeats the epochs since the last save on resume, and their lines are logged again.
        saves.save(state)
    if stopping:
        raise TrainingStopped(f"{failures[0].message} (stopped: train.on_failure is 'stop')")


def write_epoch(state: TrainState, cfg: RunConfig, run_dir: Path, means: dict[str, float], monitor: HealthMonitor,
                grid: torch.Tensor, events: list[HealthEvent], hook: EpochHook | None, log_to: RunLog,
                clock: WallClock, *, progress: bool, last: bool, files: bool) -> None:
    """Rank 0's lines for an epoch, and (when `files`: every train.grid_every epochs, the
    last, a stop) its grid and weights, handed to the writer; the light evaluation runs
    here, on this thread."""
    if not progress:  # without a bar, one log line per epoch
        log.info("epoch %d/%d: d_loss %.3f, g_loss %.3f, D(x) %.3f, D(G(z)) %.3f, %.0f img/s",
                 state.epoch, cfg.train.epochs, means["d_loss"], means["g_loss"], means["d_real"],
                 means["d_fake"], means["img_per_s"])
    epoch, step, writer = state.epoch, state.step, log_to.writer

    def write_grid() -> None:
        grid_png = make_grid(grid.numpy())  # uint8 [H, W] (or [H, W, 3])
        save_png(run_dir / "samples" / f"epoch_{epoch:04d}.png", grid_png)
        log_to.grid(step, grid_png)

    if files:
        weights = generator_snapshot(state.sampler)
        writer.submit(write_grid)
        writer.submit(lambda: write_generator(run_dir / "generator.safetensors", weights, cfg, epoch))
    log_to.line({"epoch": epoch, "step": step, "health": {
        "d_loss": means["d_loss"], "d_fake": means["d_fake"], "diversity": monitor.last_share}})
    with clock.phase("eval"):
        extra = hook(state, cfg, run_dir, last, writer) if hook else None
    if extra:
        log_to.line({"epoch": epoch, "step": step, **extra})
    for event in [*events, *monitor.check_modes(epoch, extra)]:
        log_to.line(event.record(step))
        (log.info if event.event == "recovered" else log.warning)("%s", event.message)


def run_epoch(state: TrainState, cfg: RunConfig, obj: Objective, feed: Feed, log_to: RunLog, *,
              world: World = World(), progress: bool, saver: Checkpoints | None = None,
              budget_checked: bool = True) -> dict[str, float]:
    """One pass over the shuffled training set (or the rest of it, after a mid-epoch
    resume), logging every cfg.train.log_every steps; returns the epoch's mean stats
    (obj.stat_names, averaged over the ranks) and its img/s (all ranks together). A step
    takes n_critic global batches, of which this rank trains on its shard; the feed runs
    up to feed.k steps per call, never across a metrics line. Unless budget_checked, the
    time budget is projected at the first metrics line (train/budget.py)."""
    t, names = cfg.train, obj.stat_names
    per_step = t.batch_size * obj.n_critic  # real images per step
    if state.progress is None:
        zeros = torch.zeros(len(names), device=feed.images.device)
        state.progress = EpochProgress(state.data_gen.get_state(), zeros, zeros.clone())
    p = state.progress
    done = p.batch
    steps = feed.start_epoch(done)
    bar = tqdm(total=steps * per_step, initial=done * per_step, unit="img", unit_scale=True,
               disable=not progress or world.rank != 0, desc=f"epoch {state.epoch + 1}/{t.epochs}",
               dynamic_ncols=True, leave=True)
    tick = start = time.perf_counter()
    decay = t.lr_decay_start < 1
    if decay:  # from the share done so far; again at each metrics line
        set_lrs(state, t, state.epoch + done / steps, state.seconds)
    while p.batch < steps:
        if saver and p.batch:
            saver.before_step(state)
        n = min(feed.k, steps - p.batch, t.log_every - p.count)
        for row in feed(n):
            p.sums += row
        p.count += n
        p.batch += n
        bar.update(n * per_step)
        if p.count == t.log_every or p.batch == steps:
            now = time.perf_counter()
            p.epoch_sums += world.mean_(p.sums)
            record = {"epoch": state.epoch + 1, "step": state.step,
                      **dict(zip(names, (p.sums / p.count).tolist())),
                      "img_per_s": p.count * per_step / (now - tick),
                      **(state.augment.log() if state.augment is not None else {})}
            if decay:  # one clock on every rank, as for train.minutes
                record["lr_scale"] = set_lrs(state, t, state.epoch + p.batch / steps,
                                             state.seconds + world.max(now - start))
            bar.set_postfix(d_loss=f"{record['d_loss']:.3f}", g_loss=f"{record['g_loss']:.3f}", refresh=False)
            log_to.line(record)
            if not budget_checked:
                budget_checked = True
                event = budget_event(minutes=t.minutes, seconds_done=state.seconds + now - start, epoch=state.epoch,
                                     epochs=t.epochs, images_per_epoch=steps * per_step,
                                     img_per_s=record["img_per_s"], precision=obj.precision)
                if event:
                    log_to.line(event.record(state.step))
                    if world.rank == 0:
                        log.warning("warning: %s", event.message)
            p.sums.zero_()
            p.count, tick = 0, now
    bar.close()
    means = dict(zip(names, (p.epoch_sums / steps).tolist()))
    state.progress = None
    elapsed = world.max(time.perf_counter() - start)  # one clock for train.minutes on every rank
    state.seconds += elapsed
    return means | {"img_per_s": (steps - done) * per_step / elapsed}
