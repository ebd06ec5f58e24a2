"""Studies as a command: seeds and settings side by side, resumable, summarised; an Optuna
search over a space.

    spec = mnistgan.sweep.from_flags(preset="classic", seeds="0-7", ...)   # or read_spec(path)
    state = mnistgan.run_sweep(spec, Path("sweeps"))                      # state.folder: sweeps/00000-classic/

spec.py (what), runner.py (the jobs, sweep.json through state.py), search.py (Optuna),
summary.py (summary.md/.csv/.json and sweep.html).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from pathlib import Path

from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError, MnistganError, first_line
from mnistgan.runtable import process_alive
from mnistgan.sweep.runner import Sweep, check_spec, default_jobs
from mnistgan.sweep.spec import SweepSpec, from_flags, read_spec
from mnistgan.sweep.state import SweepState, open_sweep, read_state, state_spec
from mnistgan.sweep.summary import write_summary
from mnistgan.train.stop import Stopped

log = logging.getLogger(__name__)


def resume_spec(folder: Path, jobs: int | None = None) -> tuple[SweepSpec, SweepState]:
    """The spec saved in a sweep folder (jobs may change: the results do not depend on it)."""
    state = read_state(folder)
    if state is None:
        raise ConfigError(f"{folder}: not a sweep folder ({'no readable sweep.json' if folder.is_dir() else 'no such folder'})")
    spec = state_spec(state)
    return (dataclasses.replace(spec, jobs=jobs) if jobs else spec), state


def run_sweep(spec: SweepSpec, outdir: Path = Path("sweeps"), sources: Sources = Sources(), *,
              data_dir: str | None = None, state: SweepState | None = None) -> SweepState:
    """Check everything, then run (or continue) the sweep in outdir/NNNNN-NAME (or in
    `state`'s folder) and write its summary. Raises train.stop.Stopped on SIGINT/SIGTERM
    after every worker has saved, naming the command that continues."""
    found = check_spec(spec, sources)
    if state is None:
        state, continued = open_sweep(outdir, spec)
        log.info("%s sweep folder: %s", "continuing the" if continued else "new", state.folder)
    mine = state.data.get("pid") == os.getpid() and state.data.get("host") == socket.gethostname()
    if state.data.get("state") == "running" and process_alive(state.data) and not mine:
        raise ConfigError(f"{state.folder}: this sweep is running (pid {state.data.get('pid')} on "
                          f"{state.data.get('host')}); wait for it, or stop it first")
    state.data["spec"] = spec.to_dict()
    sweep = Sweep(spec, state, sources, jobs=default_jobs(spec), data_dir=data_dir)
    sweep.plan(found)
    state.begin()
    try:
        if spec.trials:
            sweep.open_search()
        sweep.run()
    except Stopped:
        state.end("interrupted", "stopped by a signal")
        raise
    except BaseException as e:
        sweep.stop_all_quietly()
        state.end("failed", first_line(e, 200))
        raise
    state.end("finished")
    try:
        write_summary(state)
    except OSError as e:
        raise MnistganError(f"the runs are done but the summary could not be written ({first_line(e)}); "
                            f"rerun: mnistgan sweep --resume {state.folder}") from None
    return state


__all__ = ["SweepSpec", "from_flags", "read_spec", "run_sweep", "resume_spec", "write_summary"]
