"""What the analysis says about a run: plain frozen dataclasses, JSON-ready."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Event:
    kind: str  # launch | resume | config_changed | superseded | discriminator_on | checkpoint | non_finite | spike | stall
    step: int | None
    time: pd.Timestamp | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    name: str
    start_step: int
    end_step: int
    start_time: pd.Timestamp | None
    end_time: pd.Timestamp | None
    description: str
    stats: dict[str, dict[str, float | None]]  # metric -> first, last, start, end, trend, mean, slope (per 1,000 steps)
    # where the phase begins when that is a change point of the trend: step, source ("events": the exact step
    # in the per-step event values; "log": a logged step) and metric; None after a launch, the switch or at the start
    change_point: dict[str, Any] | None = None
    source: str = "log"  # where the phase's figures come from (the log's records)


@dataclass(frozen=True)
class Alert:
    code: str
    severity: str  # info | warning | error
    message: str
    step: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    action: str = ""  # what to do about it, in one sentence ("" for information only)


@dataclass(frozen=True)
class DiscSwitch:
    configured_step: int | None  # model.lossconfig.disc_start
    last_off_step: int | None  # last logged step with disc_factor 0 before the switch
    first_on_step: int | None  # first logged step with disc_factor > 0


@dataclass(frozen=True)
class Throughput:
    steps_per_hour: float | None  # optimizer steps per hour, within launches (gaps between launches excluded)
    lines_per_hour: float | None  # `[Train Step]` log lines per hour (steps / log_freq x lines per step)
    elapsed_seconds: float | None  # the log's first to last timestamp, gaps and superseded launches included
    active_seconds: float | None  # time inside launches
    eta_seconds: float | None  # to train_num_steps at steps_per_hour
    next_checkpoint_step: int | None
    eta_next_checkpoint_seconds: float | None
    latest_step: int | None
    total_steps: int | None
    typical_interval_seconds: float | None  # median seconds between logged records within launches


@dataclass(frozen=True)
class Analysis:
    stage: str | None
    records: int
    window: tuple[int | None, int | None]
    events: list[Event]
    phases: list[Phase]
    alerts: list[Alert]
    stats: dict[str, dict[str, Any]]
    phase_stats: dict[str, dict[str, dict[str, Any]]]
    throughput: Throughput
    disc: DiscSwitch | None
    lr: pd.DataFrame | None  # step, logged, reconstructed
    decomposition: pd.DataFrame | None  # step, nll, kl_term, adv_term, composed, total_logged, residual
    checkpoints: pd.DataFrame  # step, milestone, then metric values at the nearest logged step <= it
    segments: list[dict[str, Any]]
    config: dict[str, Any] | None
    steps: dict[str, Any]  # first, last, total (steps); first_time, last_time (the log's timestamps in the window)
    run_state: Any = None  # state.RunState as of the analysis time (not part of the cached, time-free analysis)
    # log records and event steps in the window, the event tags (sources.sources_json)
    sources: dict[str, Any] = field(default_factory=dict)
    # every milestone with its checkpoint file, samples and values from each source (checkpoints.checkpoint_table)
    checkpoint_files: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_json(self) -> dict[str, Any]:
        """The `analyze --json` object: plain JSON types, NaN/inf as null."""
        tp = self.throughput
        out = {
            "state": None if self.run_state is None else self.run_state.state,
            "run_state": None if self.run_state is None else self.run_state.to_json(),
            "stage": self.stage,
            "records": self.records,
            "window": {"from_step": self.window[0], "until_step": self.window[1]},
            "steps": self.steps,
            "segments": self.segments,
            "config": self.config,
            "throughput": {k: getattr(tp, k) for k in tp.__dataclass_fields__},
            "phases": [{"name": p.name, "start_step": p.start_step, "end_step": p.end_step,
                        "start_time": p.start_time, "end_time": p.end_time, "description": p.description,
                        "source": p.source, "change_point": p.change_point, "stats": p.stats} for p in self.phases],
            "events": [{"kind": e.kind, "step": e.step, "time": e.time, **e.detail} for e in self.events],
            "alerts": [{"code": a.code, "severity": a.severity, "message": a.message, "action": a.action, "step": a.step,
                        **a.detail}
                       for a in self.alerts],
            "stats": self.stats,
            "phase_stats": self.phase_stats,
            "discriminator": None if self.disc is None else vars(self.disc),
            "checkpoints": self.checkpoints.to_dict(orient="records"),
            "checkpoint_files": _records(self.checkpoint_files),
            "sources": self.sources,
        }
        return jsonable(out)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with pandas' missing values (NA, NaN) as None."""
    return [{k: (None if v is pd.NA else v) for k, v in row.items()} for row in table.to_dict(orient="records")]


def jsonable(x: Any) -> Any:
    """Recursively: numpy scalars to Python, NaN/inf to None, timestamps to ISO strings."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, pd.Timestamp):
        return None if pd.isna(x) else x.isoformat()
    if x is pd.NaT:
        return None
    if isinstance(x, np.bool_):
        return bool(x)
    return x
