"""The agent's side of HyperDrive: one pass over every active sweep per agent loop.

A pass reads the sweep's children and their primary metric from the store, applies the
early-termination policy (a stopped child is canceled with the decision as its error),
notes the best run, starts children while fewer than ``max_concurrent_runs`` are active and
fewer than ``max_total_runs`` exist, and ends the sweep when no child is left to start or
run. Nothing is kept only in memory that a restarted agent needs: see ``sweeps``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runyard._entities import ErrorCode, MetricKind, MetricPoint, RunError, RunInfo, RunStatus
from runyard._services import Services
from runyard._services.job_setup import DATASET_TOKEN
from runyard._services.jobs import cancel_run, queue_script_run
from runyard._services.sweep_policies import evaluate, stops_children
from runyard._services.sweep_sampling import Sampler, Trial, make_sampler
from runyard._services.sweeps import (
    HYPERPARAMETER_TAG,
    RUN_TYPE,
    SWEEP_ENDED,
    append_sweep_log,
    best_of,
    child_index,
    child_run_id,
    children,
    hyperparameters,
    primary_values,
    sweep_config,
)
from runyard.exceptions import RunIdAlreadyExists, UserErrorException

log = logging.getLogger(__name__)

BEST_TABLE = "best_child_by_primary_metric"  # v1's parent metric
RESUME_ARGUMENT = "--resume-from"  # v1's argument for resume_child_runs
RESUME_INPUT = "resume_from"
_SWEEP_STATUSES = (RunStatus.RUNNING, RunStatus.CANCEL_REQUESTED)
_ACTIVE = tuple(s for s in RunStatus if not s.is_terminal())
# A child in these has no metric yet: its job has not run (its spool is ingested from Running).
_NOT_RUN_YET = (
    RunStatus.NOT_STARTED,
    RunStatus.QUEUED,
    RunStatus.PREPARING,
    RunStatus.PROVISIONING,
    RunStatus.STARTING,
)
# A running child's metric is read again at most this often (s): passes come at every
# child's end, and policies need to act within seconds, not milliseconds. Without a policy
# it only updates the best run so far: read once a child has run that long, then as often.
SERIES_FRESH = 0.25
SERIES_FRESH_NO_POLICY = 2.0
# Between two reads of the active sweeps and their active children (s), a pass uses what
# this loop saw and wrote and what the supervisors of ended children said; the agent asks
# for a read at once when another process woke it (a submit, a cancel).
SWEEPS_FRESH = 0.5
TAGS_EVERY = 0.5  # s between writes of the parent's hyperparameter tags (v1's _aml_system_)


class SweepLoop:
    """Drives the workspace's active sweeps; ``tick`` is called by the agent's loop."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._sweeps: dict[str, _Sweep] = {}
        self._read_at = -SWEEPS_FRESH
        self.made: list[RunInfo] = []  # the children the last pass made (Queued)

    def tick(self, *, read: bool = True, ended: Mapping[str, RunInfo] | None = None) -> bool:
        """One pass over every active sweep; True while any is active.

        ``read``: read the active sweeps from the store; else (the agent was woken only by
        its own supervisors) the ones this loop knows, as it last saw or wrote them, unless
        that is older than SWEEPS_FRESH. ``ended``: children known to have ended, as their
        supervisors left them (terminal: read no more)."""
        now = time.monotonic()
        self.made = []
        if read or now - self._read_at >= SWEEPS_FRESH:
            active = self.services.store.list_runs(
                statuses=_SWEEP_STATUSES, run_type=RUN_TYPE, agent_managed=True
            )
            self._read_at = now
        else:
            active = [s.info for s in self._sweeps.values() if not s.ended]
        for info in active:
            sweep = self._sweeps.get(info.run_id)
            if sweep is None:
                sweep = self._sweeps[info.run_id] = _Sweep(self.services, info)
            try:
                sweep.step(info, ended or {}, read=read)
            except Exception as exc:  # a bug or a store failure: retried next pass
                log.exception("sweep %s: pass failed: %s", info.run_id, exc)
            self.made.extend(sweep.made)
        alive = {i.run_id for i in active}
        self._sweeps = {k: v for k, v in self._sweeps.items() if k in alive and not v.ended}
        return bool(self._sweeps)


class _Sweep:
    def __init__(self, services: Services, info: RunInfo) -> None:
        self.services, self.run_id = services, info.run_id
        self.info = info  # as last read or written by this loop
        self.made: list[RunInfo] = []  # the children this pass made
        self.ended = False
        self._tagged_at = -TAGS_EVERY
        config = sweep_config(info)
        self.config = config
        self.metric = str(config["primary_metric_config"]["name"])
        self.goal = str(config["primary_metric_config"]["goal"]).lower()
        self.max_total = int(config["max_total_runs"])
        self.max_concurrent = int(config["max_concurrent_runs"])
        started = info.start_time.timestamp() if info.start_time else time.time()
        self.deadline = started + float(config["max_duration_minutes"]) * 60
        self.seed = int(info.definition.get("seed") or 0)
        self._sampler: Sampler | None = None
        self.evaluated: dict[str, int] = {}
        self.final_series: dict[str, list[float]] = {}
        self.live_series: dict[str, tuple[float, list[float]]] = {}  # (read at, values)
        self.fresh = (
            SERIES_FRESH if stops_children(config["policy_config"]) else SERIES_FRESH_NO_POLICY
        )
        self.exhausted = False
        self.stopping: str | None = None  # why no child starts any more
        self.best: tuple[str, float] | None = None
        # Children already ended when this agent took the sweep up were reported before.
        self.reported = {
            c.run_id for c in children(services, info.run_id) if c.status.is_terminal()
        }
        self.earlier_trials = self._earlier_trials()
        self._ended: dict[str, RunInfo] | None = None  # read in full on the first pass
        self._active: dict[str, RunInfo] = {}  # as last read, or as this loop made them
        self._read_at = -SWEEPS_FRESH

    # ---- one pass ------------------------------------------------------------------------
    def step(self, info: RunInfo, ended: Mapping[str, RunInfo], *, read: bool = True) -> None:
        self.info, self.made = info, []
        kids = self._children(ended, read)
        self._tag_hyperparameters(kids)
        series = self._series(kids)
        active = [c for c in kids if not c.status.is_terminal()]
        self._report_ended(kids, series)
        if info.status is RunStatus.CANCEL_REQUESTED:
            self._stop_all(active, "the sweep was canceled", None)
            if not active:
                self._end(RunStatus.CANCELED, kids, series)
            return
        self._apply_policy(series, active)
        self._note_best(series)
        if self.stopping is None and time.time() >= self.deadline:
            minutes = self.config["max_duration_minutes"]
            self.stopping = f"max_duration_minutes={minutes} was reached"
            reason = RunError(
                ErrorCode.MAX_RUN_DURATION_EXCEEDED,
                f"Canceled: the sweep {self.run_id} reached its max_duration_minutes={minutes}.",
            )
            self._stop_all(active, self.stopping, reason)
        # The policy and the deadline only ask children to stop (CancelRequested is still
        # active), so the children read at the start of the pass still count right.
        kids = self._start_children(info, kids, series, len(active))
        self._active.update((c.run_id, c) for c in kids if not c.status.is_terminal())
        if self._done_starting(kids) and not any(not c.status.is_terminal() for c in kids):
            self._end(self._outcome(kids), kids, series)

    def _children(self, ended: Mapping[str, RunInfo], read: bool) -> list[RunInfo]:
        """The sweep's children in child order. Ended children never change, so after the
        first pass only the active ones are read again (and those that left that set, unless
        their supervisor said how they ended); between reads (see SWEEPS_FRESH) none is."""
        store, now = self.services.store, time.monotonic()
        if self._ended is None:
            kids = children(self.services, self.run_id)
            self._read_at = now
        elif read or now - self._read_at >= SWEEPS_FRESH:
            active = store.list_runs(parent_run_id=self.run_id, statuses=_ACTIVE)
            left = self._active.keys() - {c.run_id for c in active}
            kids = [*self._ended.values(), *active, *(_final(r, ended, store) for r in left)]
            self._read_at = now
        else:
            known = ((r, ended.get(r)) for r in self._active)
            done = [e for _, e in known if e is not None and e.status.is_terminal()]
            gone = {c.run_id for c in done}
            active = [c for r, c in self._active.items() if r not in gone]
            kids = [*self._ended.values(), *active, *done]
        kids.sort(key=lambda c: child_index(c.run_id))
        self._ended = {c.run_id: c for c in kids if c.status.is_terminal()}
        self._active = {c.run_id: c for c in kids if not c.status.is_terminal()}
        return kids

    def _series(self, kids: Sequence[RunInfo]) -> dict[str, list[float]]:
        series: dict[str, list[float]] = {}
        now = time.monotonic()
        for child in kids:
            cached = self.final_series.get(child.run_id)
            if cached is None and child.status.is_terminal():
                cached = primary_values(self.services, child.run_id, self.metric)
                self.final_series[child.run_id] = cached
                self.live_series.pop(child.run_id, None)
            elif cached is None and child.status in _NOT_RUN_YET:
                cached = []
            elif cached is None:
                # Never read yet: as if read when it started running.
                started = self._running_since(child, now)
                read_at, cached = self.live_series.get(child.run_id, (started, []))
                if now - read_at >= self.fresh:
                    cached = primary_values(self.services, child.run_id, self.metric)
                    self.live_series[child.run_id] = (now, cached)
            series[child.run_id] = cached
        return series

    def _running_since(self, child: RunInfo, now: float) -> float:
        """When the child started running, on the monotonic clock (now - fresh if unknown:
        read at once)."""
        if child.start_time is None:
            return now - self.fresh
        return now - max(0.0, time.time() - child.start_time.timestamp())

    def _tag_hyperparameters(self, kids: Sequence[RunInfo], *, now: bool = False) -> None:
        """v1's parent tags ``_aml_system_<child id>``, for every child that has none yet
        (one a killed agent did not get to write too): written at most every TAGS_EVERY
        seconds, in one write, and before the sweep ends (``now``)."""
        if not now and time.monotonic() - self._tagged_at < TAGS_EVERY:
            return
        missing = {
            f"{HYPERPARAMETER_TAG}{c.run_id}": json.dumps(hyperparameters(c))
            for c in kids
            if f"{HYPERPARAMETER_TAG}{c.run_id}" not in self.info.tags
        }
        if missing:
            self.info = self.services.store.set_tags(self.run_id, missing)
            self._tagged_at = time.monotonic()

    # ---- policy and results ----------------------------------------------------------------
    def _apply_policy(self, series: Mapping[str, list[float]], active: Sequence[RunInfo]) -> None:
        running = {c.run_id for c in active if c.status is not RunStatus.CANCEL_REQUESTED}
        decisions = evaluate(
            self.config["policy_config"], self.goal, self.metric, series, running, self.evaluated
        )
        for decision in decisions:
            reason = RunError(ErrorCode.EARLY_TERMINATION, decision.message)
            done = cancel_run(self.services, decision.run_id, reason=reason)
            self._read_at = -SWEEPS_FRESH  # the next pass reads the children again
            if done.status.is_terminal() and done.status is not RunStatus.CANCELED:
                continue  # it ended on its own meanwhile
            append_sweep_log(self.services, self.run_id, f"{decision.run_id}: {decision.message}")

    def _note_best(self, series: Mapping[str, list[float]]) -> None:
        best = self._best(series)
        if best is None or best == self.best:
            return
        self.best = best
        self._log_best(best, final=False)
        append_sweep_log(
            self.services, self.run_id, f"Best run so far: {best[0]} ({self.metric} {best[1]:g})"
        )

    def _best(self, series: Mapping[str, list[float]]) -> tuple[str, float] | None:
        scored = [
            (rid, max(v) if self.goal == "maximize" else min(v)) for rid, v in series.items() if v
        ]
        if not scored:
            return None
        pick = max if self.goal == "maximize" else min
        return pick(scored, key=lambda s: s[1])

    def _log_best(self, best: tuple[str, float], *, final: bool) -> None:
        row = {"run_id": best[0], "metric_value": best[1], "final": final}
        point = MetricPoint(BEST_TABLE, MetricKind.TABLE, row, time.time())
        self.services.store.log_metrics(self.run_id, [point])

    def _report_ended(self, kids: Sequence[RunInfo], series: Mapping[str, list[float]]) -> None:
        for child in kids:
            if child.status.is_terminal() and child.run_id not in self.reported:
                self.reported.add(child.run_id)
                best = best_of(series.get(child.run_id, []), self.goal)
                shown = "not logged" if best is None else f"best {best:g}"
                append_sweep_log(
                    self.services, self.run_id,
                    f"{child.run_id} ended {child.status.value} ({self.metric}: {shown})",
                )  # fmt: skip

    # ---- starting and stopping children -------------------------------------------------------
    def _done_starting(self, kids: Sequence[RunInfo]) -> bool:
        return self.stopping is not None or self.exhausted or len(kids) >= self.max_total

    def _start_children(
        self,
        info: RunInfo,
        kids: list[RunInfo],
        series: Mapping[str, list[float]],
        active: int,
    ) -> list[RunInfo]:
        while not self._done_starting(kids) and active < self.max_concurrent:
            index = len(kids)
            resumed = self._resumed_child(index)
            params = (
                hyperparameters(resumed)
                if resumed
                else self._sampler_for().sample(index, self._trials(kids, series))
            )
            if params is None:
                self.exhausted = True
                append_sweep_log(
                    self.services, self.run_id,
                    f"The parameter space is exhausted after {index} runs: no run left to start.",
                )  # fmt: skip
                break
            kids.append(self._start_child(info, index, params, resumed))
            self.made.append(kids[-1])
            active += 1
        return kids

    def _trials(self, kids: Sequence[RunInfo], series: Mapping[str, list[float]]) -> list[Trial]:
        """What the sampler learns from: the earlier sweeps' children and this one's."""
        if not self._sampler_for().uses_trials():
            return []
        return self.earlier_trials + [
            Trial(
                child_index(c.run_id),
                hyperparameters(c),
                best_of(series.get(c.run_id, []), self.goal),
                c.status.is_terminal(),
            )  # fmt: skip
            for c in kids
        ]

    def _resumed_child(self, index: int) -> RunInfo | None:
        """resume_child_runs: the first children run those earlier children again."""
        resumes = self.config.get("resume_child_runs") or []
        return self.services.store.get_run(resumes[index]) if index < len(resumes) else None

    def _sampler_for(self) -> Sampler:
        if self._sampler is None:
            self._sampler = make_sampler(self.config["generator_config"], self.goal, self.seed)
        return self._sampler

    def _start_child(
        self,
        info: RunInfo,
        index: int,
        params: Mapping[str, Any],
        resumed: RunInfo | None = None,
    ) -> RunInfo:
        base = info.definition["base"]
        run_id = child_run_id(self.run_id, index)
        arguments = [*base.get("arguments", [])]
        for key, value in params.items():
            arguments += [key, _argument(value)]
        definition = {**base, "arguments": arguments, "hyperparameters": dict(params)}
        if resumed is not None:
            self._add_resume_input(definition, resumed)
        try:
            child = queue_script_run(
                self.services, run_id=run_id, experiment_name=info.experiment_name,
                run_definition=definition, parent_run_id=self.run_id,
            )  # fmt: skip
        except RunIdAlreadyExists:  # a killed agent started it, just before
            child = self.services.store.get_run(run_id)
        append_sweep_log(
            self.services, self.run_id, f"Started {run_id} with {json.dumps(dict(params))}"
        )
        return child

    def _add_resume_input(self, definition: dict[str, Any], resumed: RunInfo) -> None:
        """v1's warm start of one child: ``--resume-from <folder>``, the earlier child's
        ./outputs as a read-only copy (a mount), to load its checkpoints from."""
        folder = self.services.artifacts.local_path(f"runs/{resumed.run_id}/outputs")
        if folder is None:
            raise UserErrorException(
                "resume_child_runs needs the workspace's artifacts on this machine; this "
                "artifact store is remote."
            )
        folder.mkdir(parents=True, exist_ok=True)  # a run that wrote no outputs: empty
        dataset = {"type": "File", "paths": [{"url": folder.as_uri()}]}
        definition["data"] = {
            **(definition.get("data") or {}),
            RESUME_INPUT: {"mode": "mount", "path_on_compute": None, "dataset": dataset,
                           "dataset_id": None, "dataset_name": None, "dataset_version": None},
        }  # fmt: skip
        definition["arguments"] = [*definition["arguments"], RESUME_ARGUMENT,
                                   f"{DATASET_TOKEN}{RESUME_INPUT}"]  # fmt: skip
        definition["resumed_from"] = resumed.run_id

    def _stop_all(self, active: Sequence[RunInfo], why: str, reason: RunError | None) -> None:
        stopped = [c.run_id for c in active if c.status is not RunStatus.CANCEL_REQUESTED]
        for run_id in stopped:
            cancel_run(self.services, run_id, reason=reason)
            self._read_at = -SWEEPS_FRESH  # the next pass reads the children again
        if stopped:
            append_sweep_log(self.services, self.run_id, f"Canceling {stopped}: {why}.")
        if self.stopping is None:
            self.stopping = why

    def _earlier_trials(self) -> list[Trial]:
        """The finished children of the sweeps this one resumes from: they seed the sampler."""
        trials: list[Trial] = []
        for parent_id in self.config.get("resume_from") or []:
            for child in children(self.services, parent_id):
                values = primary_values(self.services, child.run_id, self.metric)
                trials.append(
                    Trial(
                        -1 - len(trials), hyperparameters(child), best_of(values, self.goal),
                        True,
                    )
                )  # fmt: skip
        return trials

    # ---- the end -------------------------------------------------------------------------
    def _outcome(self, kids: Sequence[RunInfo]) -> RunStatus:
        if kids and all(c.status is RunStatus.FAILED for c in kids):
            return RunStatus.FAILED
        return RunStatus.COMPLETED

    def _end(
        self, status: RunStatus, kids: Sequence[RunInfo], series: Mapping[str, list[float]]
    ) -> None:
        self._tag_hyperparameters(kids, now=True)
        best = self._best(series)
        if best is not None:
            self._log_best(best, final=True)
        error = None
        if status is RunStatus.FAILED:
            first = kids[0]
            detail = first.error.message if first.error else "no error message"
            error = RunError(
                ErrorCode.USER_ERROR,
                f"Every child run of the sweep failed; the first, {first.run_id}: {detail}",
            )
        summary = f"best run {best[0]} ({self.metric} {best[1]:g})" if best else "no best run"
        append_sweep_log(
            self.services, self.run_id,
            f"{SWEEP_ENDED} {status.value} after {len(kids)} runs: {summary}.",
        )  # fmt: skip
        self.services.store.set_run_status(
            self.run_id, status, error=error, expected=_SWEEP_STATUSES
        )
        self.ended = True


def _final(run_id: str, ended: Mapping[str, RunInfo], store: Any) -> RunInfo:
    """A child that is no longer active: as its supervisor ended it, else as stored."""
    info = ended.get(run_id)
    return info if info is not None and info.status.is_terminal() else store.get_run(run_id)


def _argument(value: Any) -> str:
    """A sampled value as the script's argv gets it (v1 passes str(value))."""
    return str(value)
