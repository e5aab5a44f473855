"""Run progress: committed to raw.batch_runs (so `status` sees it at once) and pushed
to in-process listeners (the CLI's bar, the Prefect progress artifact).

It also keeps the run's phase timeline (`progress.phases`: each phase's state, start,
duration and latest step) — the phases are the progress labels the batch already
sets, so the timeline costs no extra call in `flows.batch`. At each phase end it logs a
user-level run message (with the warnings and notes the phase added to the summary)
and writes the run's buffered messages (flows.messages).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from flows import run_history
from flows.messages import RunMessages
from flows.summary import BatchSummary

ProgressCallback = Callable[[str, int, int], None]

PHASES = ("onboard", "plan", "prices", "factors", "dbt", "risk", "checks")
_LABEL_PHASES = {"onboarding": "onboard", "scope": "plan"}

log = logging.getLogger(__name__)


def phase_of(label: str) -> str | None:
    """The timeline phase of a progress label (`dbt chunk 2/3 through …` is dbt); None
    for the labels between phases (`starting`, `finishing`)."""
    name = _LABEL_PHASES.get(label, label.split(" ", 1)[0])
    return name if name in PHASES else None


@dataclass
class Progress:
    engine: Engine
    run_id: str
    callback: ProgressCallback | None
    done: int = 0
    total: int = 1
    started: float = field(default_factory=time.perf_counter)
    messages: RunMessages | None = None
    summary: BatchSummary | None = None
    phases: list[dict] = field(default_factory=list)
    label: str = "starting"
    _phase_t0: float = 0.0
    _reported: tuple[int, int] = (0, 0)  # summary warnings, notes already logged

    def set(self, phase: str, *, done: int | None = None, total: int | None = None) -> None:
        self.done = self.done if done is None else done
        self.total = self.total if total is None else total
        self.label = phase
        self._enter(phase_of(phase), phase)
        run_history.update_run(self.engine, self.run_id, phase=phase,
                               progress=self._snapshot())
        if self.callback:
            self.callback(phase, self.done, self.total)

    def step(self, phase: str) -> None:
        self.set(phase, done=self.done + 1)

    def close(self, status: str, failed_phase: str | None = None) -> None:
        """The final timeline (committed): the phase running when the run ended failed
        when the run did, else completed; `failed_phase` names a phase that completed
        but failed the run (the data-quality gate, a portfolio's dbt build)."""
        current = self._current()
        if current is not None:
            failed = status == "failed" and failed_phase in (None, current["phase"])
            self._end(current, "failed" if failed else "completed")
        if failed_phase and status == "failed":
            ended = [p for p in self.phases if p["phase"] == failed_phase]
            if ended:
                ended[-1]["state"] = "failed"
        self._report_summary()
        run_history.update_run(self.engine, self.run_id, progress=self._snapshot())

    def _snapshot(self) -> dict:
        return {"phase": self.label, "done": self.done, "total": self.total, "unit": "steps",
                "phases": self.phases}

    def _current(self) -> dict | None:
        last = self.phases[-1] if self.phases else None
        return last if last is not None and last["state"] == "running" else None

    def _enter(self, name: str | None, label: str) -> None:
        current = self._current()
        if current is not None and current["phase"] == name:
            current["step"] = label
            return
        if current is not None:
            self._end(current, "completed")
        if name is not None:
            self._phase_t0 = time.time()
            self.phases.append({"phase": name, "state": "running",
                                "started_at": datetime.now(UTC).isoformat(),
                                "duration_s": None, "step": label})
        if self.messages is not None:
            self.messages.phase = name or "run"

    def _end(self, entry: dict, state: str) -> None:
        entry["state"] = state
        entry["duration_s"] = round(time.time() - self._phase_t0, 3)
        log.log(logging.ERROR if state == "failed" else logging.INFO,
                "%s %s in %.2fs", entry["phase"], state, entry["duration_s"])
        self._report_summary()
        if self.messages is not None:
            self.messages.write_pending()

    def _report_summary(self) -> None:
        """Log the warnings and notes added to the summary since the last phase end."""
        if self.summary is None:
            return
        warned, noted = self._reported
        for warning in self.summary.warnings[warned:]:
            log.warning("warning: %s", warning)
        for note in self.summary.notes[noted:]:
            log.info("note: %s", note)
        self._reported = (len(self.summary.warnings), len(self.summary.notes))
