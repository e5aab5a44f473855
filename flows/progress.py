"""Run progress: committed to raw.batch_runs (so `status` sees it at once) and pushed
to in-process listeners (the CLI's bar, the Prefect progress artifact)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from flows import run_history

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class Progress:
    engine: Engine
    run_id: str
    callback: ProgressCallback | None
    done: int = 0
    total: int = 1
    started: float = field(default_factory=time.perf_counter)

    def set(self, phase: str, *, done: int | None = None, total: int | None = None) -> None:
        self.done = self.done if done is None else done
        self.total = self.total if total is None else total
        run_history.update_run(self.engine, self.run_id, phase=phase,
                               progress={"phase": phase, "done": self.done, "total": self.total,
                                         "unit": "steps"})
        if self.callback:
            self.callback(phase, self.done, self.total)

    def step(self, phase: str) -> None:
        self.set(phase, done=self.done + 1)
