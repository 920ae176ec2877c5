"""What a training job's progress display says, in words that never claim more than is known.

    progress_text(job.progress, job.device, time_left)   # "Training on cpu: epoch 1 of 5, step 40 of 210, 3 s elapsed, about 12 s left"
    tracker = RateTracker(); tracker.observe(step, elapsed); tracker.seconds_left(total_steps)
    batch_note(jobs)                                      # "2 more runs of this batch to follow" or ""

Before the trainer has said how many steps there are, the text says so ("starting") instead of
"epoch 0/?". Time left is measured from the steps trained since the first one observed, so the
start-up (loading data, building the network, the first logged step) does not inflate it; no
estimate is given until a few steps and at least a second have been measured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..base.cost import duration

MIN_STEPS, MIN_SECONDS = 3, 1.0


@dataclass
class RateTracker:
    """Seconds per step from the first observed (step, elapsed) to the latest one."""
    first: tuple[int, float] | None = None
    last: tuple[int, float] | None = None
    samples: list = field(default_factory=list)

    def observe(self, step: int | None, elapsed: float | None) -> None:
        if step is None or elapsed is None or step <= 0:
            return
        if self.first is None:
            self.first = (step, elapsed)
        if self.last is None or step > self.last[0]:
            self.last = (step, elapsed)

    def seconds_left(self, total_steps: int | None) -> float | None:
        if not total_steps or self.first is None or self.last is None:
            return None
        steps, seconds = self.last[0] - self.first[0], self.last[1] - self.first[1]
        if steps < MIN_STEPS or seconds < MIN_SECONDS:
            return None
        return max(0.0, seconds / steps * (total_steps - self.last[0]))


def progress_text(progress: dict, device: str, seconds_left: float | None = None) -> str:
    """One line for a training job's progress bar."""
    total = progress.get("total_steps")
    if not total:
        return f"Starting on {device}: loading the data and building the network"
    epochs = progress.get("epochs")
    epoch = min(int(progress.get("epoch", 0)) + 1, int(epochs)) if epochs else None
    step = int(progress.get("step", 0))
    parts = [f"Training on {device}: epoch {epoch} of {epochs}" if epoch else f"Training on {device}",
             f"step {step:,} of {int(total):,}"]
    elapsed = progress.get("elapsed")
    if elapsed:
        parts.append(f"{duration(elapsed)} elapsed")
    parts.append(f"about {duration(seconds_left)} left" if seconds_left is not None
                 else "estimating the time left")
    return ", ".join(parts)


def batch_note(phases: list[tuple[str, int | None]]) -> str:
    """'n more runs of this batch to follow' for the jobs waiting in a batch that is training now
    (phases: (phase, group) of this session's jobs); '' when none waits behind a training run."""
    training = {g for phase, g in phases if phase == "training" and g is not None}
    waiting = sum(1 for phase, g in phases if phase == "waiting" and g is not None and g in training)
    if not waiting:
        return ""
    return f"{waiting} more run{'s' if waiting > 1 else ''} of this batch to follow"


def runs_trained_text(done: float, total: int) -> str:
    """'1 of 3 runs trained, the next at 40%': whole runs, never '0.0 of 3'."""
    whole = int(math.floor(done + 1e-9))
    text = f"{whole} of {total} run{'s' if total != 1 else ''} trained"
    part = done - whole
    if whole < total and part > 0:
        text += f", the next at {part:.0%}"
    return text


@dataclass(frozen=True)
class TimeEstimate:
    """How long until runs submitted now are trained (core.runs.calibration's numbers)."""

    train: float  # seconds of training them, at the machine's load of the moment
    queue: float = 0.0  # seconds the queue trains before them
    ahead: int = 0  # jobs queued or training before them
    busy_note: str = ""  # what the load counted, or ''
    busy: float = 1.0  # the load factor `train` and `queue` include

    @property
    def quiet(self) -> float:
        """Seconds of training them on this machine without other work: the size of the action
        (what a confirmation threshold compares, the same on every server and at every load)."""
        return self.train / self.busy

    @property
    def total(self) -> float:
        return self.train + self.queue

    def text(self, what: str = "training them") -> str:
        """'training them takes about 4 min here, after about 2 min for the 3 runs queued before
        them (estimated from this machine's speed and its stored runs)'."""
        text = f"{what} takes about {duration(self.train)} here"
        if self.ahead:
            text += (f", after about {duration(self.queue)} for the {self.ahead} run"
                     f"{'s' if self.ahead != 1 else ''} queued before")
        why = "estimated from this machine's speed and its stored runs"
        return text + f" ({why}{'; ' + self.busy_note if self.busy_note else ''})"


def position_text(position: int) -> str:
    """A job's place in the queue in words: 'training', 'next', '2nd in line', or '' when it has
    finished (core.runs.jobs.JobQueue.position: 0 running, 1 next, -1 finished)."""
    if position < 0:
        return ""
    if position == 0:
        return "training"
    if position == 1:
        return "next"
    suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
    return f"{position}{suffix} in line"


def run_name(cfg) -> str:
    """A run named by its settings and seed, never by its hash."""
    return f"{cfg.describe()} · seed {cfg.seed}"


def queue_summary(phases: list[str], fractions: list[float], held: int = 0) -> str:
    """One line for a session's training jobs: '9 runs: 1 training (40%), 3 waiting in the
    worker, 5 queued' (`phases`: each job's Job.phase, "waiting" for a job handed to the worker
    that has not started; `held`: runs not queued yet, waiting for room in the session's share of
    the queue); one run: '1 run training (40%)'."""
    total = len(phases) + held
    if not total:
        return ""
    counts = [(sum(p == "training" for p in phases), "training"),
              (sum(p == "waiting" for p in phases), "waiting in the worker"),
              (sum(p == "queued" for p in phases), "queued"), (held, "to queue when room frees")]
    parts = [f"{n} {word}" for n, word in counts if n]
    done = [f for p, f in zip(phases, fractions) if p == "training"]
    if done:
        parts[0] += f" ({sum(done) / len(done):.0%})"
    if total == 1:
        return "1 run " + parts[0].split(" ", 1)[1]
    return f"{total} runs: " + ", ".join(parts)
