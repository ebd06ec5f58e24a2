"""Running a sweep: one `mnistgan train` process per (setting, seed), side by side with
pinned threads, then `mnistgan evaluate` of its best generator; state in sweep.json.

Every run is an ordinary run folder, SWEEP/NNNNN-LABEL, made by `mnistgan train --outdir
SWEEP --name LABEL`, so `mnistgan runs/report/evaluate/serve` work on it. What to do next
with a run is read from its folder: none -> train; a checkpoint -> `train --resume`;
finished -> `evaluate -n N` unless its metrics.json has that n. So after a `kill -9` of
the sweep the same command finishes the job: the workers are told by the kernel
(PR_SET_PDEATHSIG) and save their checkpoints, finished runs are kept, interrupted ones
resume exactly, and the rest start. SIGINT or SIGTERM stops every worker the same way and
says how to continue.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistgan.data.datasets import get_spec
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError, FileSystemError, MnistganError, plain_os_error
from mnistgan.io import state as checkpoint
from mnistgan.runfolder import read_best, read_json, read_metrics
from mnistgan.runtable import process_alive
from mnistgan.sweep import search as S
from mnistgan.sweep.spec import Setting, SweepSpec, build_setting, settings, toml_value
from mnistgan.sweep.state import FINAL, LOGS, SweepState
from mnistgan.train.status import read_status
from mnistgan.train.stop import SIGNALS, Stopped

log = logging.getLogger(__name__)

POLL_S = 0.2
# A run's memory, estimated: a torch process training on the CPU (a tiny run peaked at 362 MB
# resident), and per parameter of G and D its weights, gradients, Adam's two moments, EMA and
# slack (this estimate gives 872 MB for model.hidden=2048 on MNIST, which peaked at 744 MB).
PROCESS_BYTES = 400 << 20
PARAM_BYTES = 32
_PR_SET_PDEATHSIG = 1


@dataclass
class Job:
    """One run of the sweep."""

    label: str  # its folder is NNNNN-LABEL
    setting: Setting
    seed: int
    trial: int | None = None
    params: dict[str, Any] | None = None

    def overrides(self) -> tuple[str, ...]:
        return (*self.setting.overrides, *[f"{k}={toml_value(v)}" for k, v in (self.params or {}).items()],
                f"train.seed={self.seed}")


@dataclass
class Worker:
    """A running `mnistgan train` or `mnistgan evaluate` for a job."""

    job: Job
    kind: str  # train | evaluate
    proc: subprocess.Popen
    run_dir: Path | None
    log_offset: int  # where its output begins in logs/LABEL.log
    pruning: bool = False
    deleted: bool = False
    # Its run folder's inode (one deleted and made again by a write has another), and
    # whether its config.json was seen (a folder being deleted loses it)
    inode: int | None = None
    configured: bool = False
    trial: Any = field(default=None, repr=False)  # the Optuna trial reported to


def _die_with_parent() -> None:
    """In the worker, before exec: its own session (a terminal's Ctrl-C reaches the sweep
    alone, which stops the workers one by one), and SIGTERM when the sweep dies, even by
    SIGKILL (Linux; elsewhere a killed sweep leaves its workers running)."""
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_jobs(spec: SweepSpec) -> int:
    return spec.jobs or max(1, cores() // spec.threads_per_job)


def thread_warning(jobs: int, threads: int, ncores: int) -> str | None:
    if jobs * threads <= ncores:
        return None
    return (f"warning: {jobs} jobs x {threads} threads = {jobs * threads} threads on {ncores} cores: threads that "
            f"share a core slow each other down many times over (try --jobs {max(1, ncores // threads)})")


def run_bytes(setting: Setting, sources: Sources) -> int:
    """A training process's memory, estimated from the parameter counts of G and D (built
    on the meta device, so nothing is allocated) and the training split's size."""
    import torch

    from mnistgan.models import build_discriminator, build_generator

    with torch.device("meta"):
        params = sum(p.numel() for net in (build_generator(setting.cfg.model), build_discriminator(setting.cfg.model))
                     for p in net.parameters())
    images = get_spec(setting.cfg.data.name, sources.cache_dir).files["train"][0].shape
    data = 2 * int(torch.tensor(images).prod())  # uint8 on the device, and the file read
    return PROCESS_BYTES + PARAM_BYTES * params + data


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(setting_list: list[Setting], jobs: int, sources: Sources, available: int | None) -> None:
    """A ConfigError when `jobs` runs of the largest setting would not fit in memory."""
    if available is None:
        return
    biggest = max(setting_list, key=lambda s: run_bytes(s, sources))
    need = run_bytes(biggest, sources)
    if jobs * need > available:
        fit = available // need
        raise ConfigError(f"{jobs} jobs x about {need / 2**30:.1f} GB per run ({biggest.label}) would not fit in the "
                          f"{available / 2**30:.1f} GB of memory available; "
                          + (f"use --jobs {fit}" if fit else "make the model smaller"))


def find_run(sweep_dir: Path, label: str) -> Path | None:
    """SWEEP/NNNNN-LABEL (the newest, should there be several)."""
    found = sorted(p for p in sweep_dir.glob(f"[0-9][0-9][0-9][0-9][0-9]-{label}") if p.is_dir())
    return found[-1] if found else None


def wait_quiet(run_dir: Path, timeout: float = 120.0) -> None:
    """Wait while a worker of an earlier (killed) sweep is still saving into the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(run_dir)
        if not (status and status.get("state") == "running" and process_alive(status)):
            return
        time.sleep(POLL_S)
    raise MnistganError(f"{run_dir}: its training process (pid {read_status(run_dir).get('pid')}) is still running; "
                        "stop it before continuing the sweep")


def evaluated(run_dir: Path, n: int) -> dict[str, Any] | None:
    """The run's metrics.json when it holds a full evaluation at n."""
    result = read_json(run_dir / "metrics.json")
    return result if result is not None and result.get("n") == n and isinstance(result.get("metrics"), dict) else None


def last_error(log_path: Path, offset: int = 0) -> str | None:
    """The worker's one-line error or stop message, from its log after `offset` bytes (where
    this worker began writing)."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").splitlines()[-50:]
    except OSError:
        return None
    for line in reversed(lines):
        for mark in ("mnistgan: error: ", "mnistgan: stopped: "):
            if line.startswith(mark):
                return line[len(mark):]
    return None


class Sweep:
    """Runs the spec's jobs in the sweep folder; `run()` returns when every run has ended."""

    def __init__(self, spec: SweepSpec, state: SweepState, sources: Sources, *, jobs: int,
                 data_dir: str | None = None) -> None:
        self.spec, self.state, self.sources, self.jobs = spec, state, sources, jobs
        self.folder = state.folder
        self.data_dir = data_dir
        self.workers: dict[str, Worker] = {}
        self.queue: deque[Job] = deque()
        self.signum: int | None = None
        self.study: Any = None
        self.params: list[S.Param] = []
        self.base: Setting | None = None

    # --- the plan ---------------------------------------------------------------

    def plan(self, found: list[Setting]) -> None:
        """Queue the runs not yet final (`found`: the checked settings; a search's base)."""
        if self.spec.trials:
            self.params, self.base = S.parse_space(self.spec), found[0]
            return
        for setting in found:
            for seed in self.spec.seeds:
                job = Job(f"{setting.label}-s{seed}", setting, seed)
                entry = self.state.entry(job.label, setting=setting.label, seed=seed)
                if not self._final(job, entry):
                    self.queue.append(job)

    def _final(self, job: Job, entry: dict[str, Any]) -> bool:
        """A run kept as it is: finished (its folder still there), stopped, or pruned."""
        if entry["state"] not in FINAL:
            return False
        if find_run(self.folder, job.label) is None:
            log.warning("%s: its run folder is gone; starting it again", job.label)
            entry.update(state="pending", run=None, message=None, reported=[])
            return False
        return True

    def open_search(self) -> None:
        """Open the study; requeue this sweep's unfinished trials; fail the trials it asked
        for but never recorded (a kill between the two)."""
        assert self.base is not None
        self.study = S.open_study(self.spec, self.folder, self.spec.trials)
        self.state.data["storage"] = S.storage_url(self.spec, self.folder)
        mine = {e["trial"] for e in self.state.runs.values() if e.get("trial") is not None}
        for label, entry in self.state.runs.items():
            job = Job(label, self.base, self.spec.seeds[0], entry["trial"], entry["params"])
            if not self._final(job, entry):
                self.queue.append(job)
        import optuna

        for t in self.study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            if t.user_attrs.get("sweep") == self._owner() and t.number not in mine:
                self.study.tell(t.number, state=optuna.trial.TrialState.FAIL)

    def _owner(self) -> str:
        return f"{socket.gethostname()}:{self.folder.resolve()}"

    def _next_job(self) -> Job | None:
        if self.queue:
            return self.queue.popleft()
        if not self.study:
            return None
        return self._ask()

    def _ask(self) -> Job | None:
        """A new trial, while the study has fewer than spec.trials (several processes may
        share it: a trial numbered past the budget is failed at once, and not run)."""
        import optuna

        if len(self.study.get_trials(deepcopy=False)) >= self.spec.trials:
            return None
        trial = self.study.ask()
        if trial.number >= self.spec.trials:
            trial.set_user_attr("skipped", f"the study already has {self.spec.trials} trials")
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return None
        trial.set_user_attr("sweep", self._owner())
        params = {p.key: p.suggest(trial) for p in self.params}
        job = Job(f"trial{trial.number:04d}", self.base, self.spec.seeds[0], trial.number, params)
        trial.set_user_attr("run", job.label)
        entry = self.state.entry(job.label, setting=job.label, seed=job.seed, trial=trial.number, params=params)
        self._save()
        try:
            build_setting(self.spec, params, job.label, self.sources)
        except ConfigError as e:
            self._end(job, entry, "failed", str(e))
            return self._ask()
        return job

    # --- running ----------------------------------------------------------------

    def run(self) -> None:
        """Start, watch and end workers until every run has ended (or a signal came)."""
        with self._signals():
            while not self.signum:
                self._reap()
                while len(self.workers) < self.jobs and not self.signum:
                    job = self._next_job()
                    if job is None:
                        break
                    self._start(job)
                if not self.workers:
                    break
                self._watch()
                time.sleep(POLL_S)
            if self.signum:
                self.stop_all()
                raise Stopped(self.signum, f"the runs saved their checkpoints; continue with: "
                                           f"mnistgan sweep --resume {self.folder}")

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM set a flag the loop checks (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum: int, frame: Any) -> None:
            self.signum = signum

        previous = {s: signal.signal(s, handle) for s in SIGNALS}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def stop_all(self) -> None:
        """SIGTERM to every worker (each saves its checkpoint), wait, record them."""
        for label in self.workers:
            self.state.runs[label].update(state="interrupted", message="stopped by the sweep")
        self.stop_all_quietly()
        self._save()

    def stop_all_quietly(self) -> None:
        """SIGTERM to every worker, and wait for each to save and exit."""
        for w in self.workers.values():
            _signal(w.proc, signal.SIGTERM)
        for w in self.workers.values():
            w.proc.wait()
        self.workers.clear()

    def _save(self) -> None:
        """sweep.json; a failed write (a full disk) stops every worker and says what is kept."""
        try:
            self.state.save()
        except OSError as e:
            self.stop_all_quietly()
            raise FileSystemError(f"{plain_os_error(e)}; the sweep stopped, its workers saved their checkpoints and "
                                  f"finished runs are kept; continue with: mnistgan sweep --resume {self.folder}") from None

    def _start(self, job: Job) -> None:
        entry = self.state.runs[job.label]
        run_dir = find_run(self.folder, job.label)
        if run_dir is not None:
            wait_quiet(run_dir)
            if not (run_dir / "config.json").is_file():  # not a run folder any more (deleted while running)
                aside = run_dir.with_name(run_dir.name + ".incomplete")
                log.warning("%s has no config.json; moved it to %s and starting the run again", run_dir, aside.name)
                run_dir.rename(aside)
                run_dir = None
        kind, args = self._step(job, run_dir, entry)
        if kind == "done":
            return
        if run_dir is not None and not run_dir.is_dir():  # removed by _step: the run starts again in a new folder
            run_dir = None
        entry.update(run=run_dir.name if run_dir else None, state="training" if kind == "train" else "evaluating",
                     message=None)
        self._save()
        self._launch(job, kind, args, run_dir)

    def _step(self, job: Job, run_dir: Path | None, entry: dict[str, Any]) -> tuple[str, list[str]]:
        """What the run needs next, read from its folder: (train | evaluate | done, args)."""
        threads = ["--threads", str(self.spec.threads_per_job)]
        if run_dir is not None:
            status = read_status(run_dir) or {}
            if status.get("state") == "finished":
                n = self.final_n(job)
                if not n or evaluated(run_dir, n):
                    self._finish(job, entry, run_dir)
                    return "done", []
                return "evaluate", ["evaluate", str(run_dir), "-n", str(n), *threads]
            if status.get("state") == "stopped":
                self._end(job, entry, "stopped", str(status.get("message") or "stopped by the health monitor"))
                return "done", []
            if checkpoint.list_states(run_dir):
                return "train", ["train", "--resume", str(run_dir), *threads]
            log.info("%s: no checkpoint to resume from; starting it again", run_dir)
            shutil.rmtree(run_dir)
        sets = [x for kv in job.overrides() for x in ("--set", kv)]
        return "train", ["train", "--preset", job.setting.preset, "--outdir", str(self.folder), "--name", job.label,
                         *threads, *sets]

    def final_n(self, job: Job) -> int:
        """The full evaluation's n: the spec's, at most the test split (0: none)."""
        spec = get_spec(job.setting.cfg.data.name, self.sources.cache_dir)
        return min(self.spec.evaluate_n, spec.files["test"][0].shape[0])

    def _launch(self, job: Job, kind: str, args: list[str], run_dir: Path | None) -> None:
        data = ["--data-dir", self.data_dir] if self.data_dir else []
        threads = str(self.spec.threads_per_job)
        env = os.environ | {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        logs = self.folder / LOGS
        logs.mkdir(exist_ok=True)
        with open(logs / f"{job.label}.log", "ab") as out:
            offset = out.tell()
            proc = subprocess.Popen([sys.executable, "-m", "mnistgan", *args, *data], env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        trial = S.trial_handle(self.study, job.trial) if job.trial is not None and kind == "train" else None
        self.workers[job.label] = Worker(job, kind, proc, run_dir, offset, trial=trial,
                                         inode=_inode(run_dir) if run_dir else None)
        log.info("%s: %s (pid %d)", job.label, "resuming" if "--resume" in args else kind, proc.pid)

    def _watch(self) -> None:
        """Find new run folders, notice deleted ones, and feed the pruner."""
        for w in self.workers.values():
            if w.run_dir is None:
                w.run_dir = find_run(self.folder, w.job.label)
                if w.run_dir is not None:
                    self.state.runs[w.job.label]["run"] = w.run_dir.name
                    self._save()
            if w.run_dir is not None and w.inode is None:
                w.inode = _inode(w.run_dir)
            if w.run_dir is not None and not w.configured:
                w.configured = (w.run_dir / "config.json").is_file()
            if w.inode is not None and not w.deleted and (
                    _inode(w.run_dir) != w.inode or w.configured and not (w.run_dir / "config.json").is_file()):
                w.deleted = True  # its writes would make the folder again, half empty: stop it now
                _signal(w.proc, signal.SIGKILL)
            elif w.trial is not None and w.run_dir is not None and not w.pruning:
                self._report(w)

    def _report(self, w: Worker) -> None:
        """Light-evaluation FIDs not yet reported go to the trial; prune when the pruner says so."""
        entry = self.state.runs[w.job.label]
        new = [r for r in read_metrics(w.run_dir) if isinstance(r.get("eval"), dict)
               and isinstance(r.get("epoch"), int) and r["epoch"] not in entry["reported"]]
        for r in new:
            w.trial.report(float(r["eval"]["fid_lenet"]), r["epoch"])
            entry["reported"].append(r["epoch"])
        if new:
            self._save()
            if w.trial.should_prune():
                w.pruning = True
                _signal(w.proc, signal.SIGTERM)  # it saves its checkpoint and stops
                log.info("%s: pruned at epoch %d (light-evaluation FID %.4g)", w.job.label, new[-1]["epoch"],
                         new[-1]["eval"]["fid_lenet"])

    def _reap(self) -> None:
        for label, w in list(self.workers.items()):
            code = w.proc.poll()
            if code is None:
                continue
            del self.workers[label]
            self._ended(w, code)

    def _ended(self, w: Worker, code: int) -> None:
        job, entry = w.job, self.state.runs[w.job.label]
        run_dir = w.run_dir or find_run(self.folder, job.label)
        message = last_error(self.folder / LOGS / f"{job.label}.log", w.log_offset)
        if w.deleted or (run_dir is not None and not run_dir.is_dir()):
            self._end(job, entry, "failed", f"its run folder {run_dir} was deleted while the sweep ran; the next "
                                            "start trains it again")
        elif w.pruning:
            self._end(job, entry, "pruned", f"pruned at epoch {entry['reported'][-1]}")
        elif self.signum and code != 0:
            entry.update(state="interrupted", message="stopped by the sweep")
            self._save()
        elif code == 3:
            self._end(job, entry, "stopped", message or "stopped by the health monitor")
        elif code != 0:
            what = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
            self._end(job, entry, "failed", message or f"mnistgan {w.kind} {what}; see {LOGS}/{job.label}.log")
        elif not self.signum:
            self._start(job)  # the next step: evaluate, or record it as finished

    def _finish(self, job: Job, entry: dict[str, Any], run_dir: Path) -> None:
        """A run trained (and evaluated): record it; a trial is told its value."""
        value = None
        result = evaluated(run_dir, self.final_n(job)) if self.spec.evaluate_n else None
        if result is not None:
            value = float(result["metrics"]["fid_lenet"]["value"])
        elif (best := read_best(run_dir)) is not None:
            value = float(best["fid_lenet"])
        entry.update(run=run_dir.name)
        self._end(job, entry, "finished", None, value)

    def _end(self, job: Job, entry: dict[str, Any], state: str, message: str | None, value: float | None = None) -> None:
        entry.update(state=state, message=message)
        if state != "finished":
            log.warning("%s: %s: %s", job.label, state, message)
        else:
            log.info("%s: finished", job.label)
        if job.trial is not None and self.study is not None:
            self._tell(job.trial, state, value)
        self._save()

    def _tell(self, number: int, state: str, value: float | None) -> None:
        import optuna

        TS = optuna.trial.TrialState
        if state == "finished" and value is not None:
            self.study.tell(number, value, skip_if_finished=True)
        elif state == "pruned":
            self.study.tell(number, state=TS.PRUNED, skip_if_finished=True)
        else:
            self.study.tell(number, state=TS.FAIL, skip_if_finished=True)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _signal(proc: subprocess.Popen, signum: int) -> None:
    try:
        proc.send_signal(signum)
    except ProcessLookupError:
        pass


def check_spec(spec: SweepSpec, sources: Sources, available: Callable[[], int | None] = available_bytes) -> list[Setting]:
    """Everything checked before a folder is made or a run starts: every setting's config
    (or the search space), and memory for the jobs; warns when the jobs' threads exceed
    the cores. Returns the settings (a search: its base setting first, then the ends of
    its ranges)."""
    jobs = default_jobs(spec)
    found = S.check_space(spec, S.parse_space(spec), sources) if spec.trials else settings(spec, sources)
    check_memory(found, jobs, sources, available())
    warning = thread_warning(jobs, spec.threads_per_job, cores())
    if warning:
        log.warning("%s", warning)
    return found
