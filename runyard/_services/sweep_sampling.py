"""HyperDrive's samplers: each child's hyperparameters from v1's sampling JSON.

``generator_config`` is v1's ``HyperParameterSampling.to_json()``: ``{"name": "RANDOM" |
"GRID" | "BayesianOptimization", "parameter_space": {key: [expression, [args]]}}``. Optuna
does the drawing (RandomSampler, GridSampler, TPESampler on a throwaway in-memory study);
every v1 expression is an Optuna distribution of an underlying variable plus a transform:

=============  ==========================================  ==================================
expression     underlying Optuna variable                  value the script gets
=============  ==========================================  ==================================
choice(opts)   Categorical(the options' indices)           the option itself, as given
randint(u)     Int(0, u - 1)                               int
uniform(a, b)  Float(a, b)                                 float
loguniform     Float(exp(a), exp(b), log=True)             float (a and b are exponents)
normal(m, s)   Float(1e-12, 1 - 1e-12): a quantile p       float NormalDist(m, s).inv_cdf(p)
lognormal      as normal                                   float exp(normal)
q...(..., q)   as the expression without q                 round(x / q) * q
=============  ==========================================  ==================================

The q-variants round half to even (Python's ``round``, as numpy's). Their value is an ``int``
when ``q`` is an ``int`` (v1 requires an integral q, so ``quniform(16, 128, 16)`` gives
``--batch_size 64``, which argparse's ``type=int`` takes) and a float when ``q`` is a float
(``2.0`` gives ``64.0``). As in v1, ``round(x / q) * q`` may pass a bound by less than ``q``.
The normals' tails are cut at 7 sigma (the quantile's bounds); sigma 0 gives mu.

A sampler keeps no state that matters: the same (config, seed, index, trials) always gives
the same values, because the agent that runs a sweep can be killed, and the next one asks
again for child n with the trials it reads back from the store. RANDOM draws child n with a
seed derived from (seed, n). GRID walks GridSampler's order (the grid shuffled with the
seed; Optuna gives trial number k the k-th point of it) and gives child n the first point no
trial has used. BayesianOptimization rebuilds a study from the finished trials that have a
value and asks TPE, seeded from (seed, n). Over a finite space (only choice and randint) no
point is used twice, whatever the sampler: a draw that hits a used point is replaced by a
seeded uniform pick among the unused ones, and ``sample`` returns None once all are used.
Points are told apart by their values' JSON (``1``, ``1.0`` and ``True`` differ). The same
Bayesian points need the same Optuna version.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

_EPS = 1e-12  # NormalDist.inv_cdf is undefined at 0 and 1
_ARITY = {"choice": 1, "randint": 1, "uniform": 2, "quniform": 3, "loguniform": 2}
_ARITY |= {"qloguniform": 3, "normal": 2, "qnormal": 3, "lognormal": 2, "qlognormal": 3}
_GOALS = ("maximize", "minimize")


class Trial(NamedTuple):
    """A child the sampler learns from: one already started, here or in a resumed sweep."""

    # the child's number n (child id HD_<guid>_<n>); the name shadows tuple.index on purpose
    index: int  # type: ignore[assignment]
    params: dict[str, Any]  # what was sampled for it
    value: float | None  # its best primary metric so far (None: not logged)
    finished: bool  # terminal


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _identity(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _quantize(x: float, q: int | float) -> int | float:
    if isinstance(q, int):
        return int(round(x / q)) * q
    return float(round(x / q) * q)


@dataclass(frozen=True, slots=True)
class _Param:
    """One parameter-space entry: the underlying variable and its transform to the value."""

    key: str
    kind: str
    args: tuple[Any, ...]
    options: tuple[Any, ...] = ()  # choice only; the first of equal options is kept

    @property
    def size(self) -> int | None:
        if self.kind == "choice":
            return len(self.options)
        return int(self.args[0]) if self.kind == "randint" else None

    def _bounds(self) -> tuple[float, float]:
        low, high = float(self.args[0]), float(self.args[1])
        if "loguniform" in self.kind:
            return math.exp(low), math.exp(high)
        return low, high

    def distribution(self) -> BaseDistribution:
        # late: optuna is a heavy import (~0.3 s); only the agent's sweep loop needs it
        from optuna.distributions import CategoricalDistribution as Categorical
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.kind == "choice":
            return Categorical(list(range(len(self.options))))
        if self.kind == "randint":
            return IntDistribution(0, int(self.args[0]) - 1)
        if "uniform" in self.kind:
            low, high = self._bounds()
            return FloatDistribution(low, high, log="loguniform" in self.kind)
        return FloatDistribution(_EPS, 1 - _EPS)  # the normals: a quantile

    def to_value(self, raw: Any) -> Any:
        """The underlying variable's value -> what the script gets."""
        if self.kind == "choice":
            return self.options[int(raw)]
        if self.kind == "randint":
            return int(raw)
        x = float(raw)
        if "normal" in self.kind:
            mu, sigma = float(self.args[0]), float(self.args[1])
            x = mu if sigma == 0 else NormalDist(mu, sigma).inv_cdf(x)
            if "lognormal" in self.kind:
                x = math.exp(x)
        return _quantize(x, self.args[2]) if self.kind.startswith("q") else x

    def to_raw(self, value: Any) -> Any:
        """What a script got -> the underlying variable (clamped); None if not of this space."""
        if self.kind == "choice":
            identity = _identity(value)
            found = (i for i, o in enumerate(self.options) if _identity(o) == identity)
            return next(found, None)
        if not _number(value) or math.isnan(value):
            return None
        if self.kind == "randint":
            whole = float(value).is_integer() and 0 <= value < self.args[0]
            return int(value) if whole else None
        x = float(value)
        if "normal" not in self.kind:
            low, high = self._bounds()
            return min(max(x, low), high)
        mu, sigma = float(self.args[0]), float(self.args[1])
        if "lognormal" in self.kind:
            x = math.log(x) if x > 0 else -math.inf
        if sigma == 0 or not math.isfinite(x):
            p = 0.5 if sigma == 0 else float(x > 0)
        else:
            p = NormalDist(mu, sigma).cdf(x)
        return min(max(p, _EPS), 1 - _EPS)


def _parse(key: str, expression: Any) -> _Param:
    """One ``parameter_space`` entry, checked as v1's parameter_expressions checks it."""
    where = f"parameter_space[{key!r}] = {expression!r}"
    if not (isinstance(expression, list | tuple) and len(expression) == 2):
        raise UserErrorException(
            f"{where} is not a parameter expression: expected [name, [args]], as "
            "azureml.train.hyperdrive's choice(), uniform() ... return it."
        )
    kind, args = expression
    if kind not in _ARITY:
        raise UserErrorException(f"{where}: unknown expression; use one of {', '.join(_ARITY)}.")
    if not isinstance(args, list | tuple) or len(args) != _ARITY[kind]:
        raise UserErrorException(f"{where}: {kind} takes {_ARITY[kind]} argument(s).")
    if kind == "choice":
        if not isinstance(args[0], list | tuple) or not args[0]:
            raise UserErrorException(f"{where}: choice needs a non-empty list of options.")
        unique: dict[str, Any] = {}
        for option in args[0]:
            unique.setdefault(_identity(option), option)
        return _Param(key, kind, tuple(args), tuple(unique.values()))
    if kind == "randint":
        if not (isinstance(args[0], int) and not isinstance(args[0], bool) and args[0] > 0):
            raise UserErrorException(f"{where}: randint's upper bound must be an int > 0.")
        return _Param(key, kind, tuple(args))
    if not all(_number(a) and math.isfinite(a) for a in args):
        raise UserErrorException(f"{where}: every argument of {kind} must be a finite number.")
    log = kind.endswith("loguniform")
    if "uniform" in kind and not (args[0] < args[1] or (log and args[0] == args[1])):
        relation = "<=" if log else "<"
        raise UserErrorException(f"{where}: {kind} needs min_value {relation} max_value.")
    if "normal" in kind and args[1] < 0:
        raise UserErrorException(f"{where}: {kind}'s sigma must be >= 0.")
    if kind.startswith("q") and args[2] <= 0:
        raise UserErrorException(f"{where}: {kind}'s q must be > 0.")
    return _Param(key, kind, tuple(args))


def _derive(seed: int, index: int, purpose: str) -> int:
    """A 32-bit seed (numpy's limit) for one draw, the same in every process."""
    digest = hashlib.sha256(f"runyard-sweep/{purpose}/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna's log lines and warnings speak to someone driving a study by hand; here the
    sweep log is the reader, and pytest turns warnings into errors."""
    # late: optuna is a heavy import (~0.3 s); only the agent's sweep loop needs it
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class Sampler:
    """Picks each child's hyperparameters (RANDOM here; see the module docstring)."""

    def __init__(self, params: Sequence[_Param], *, goal: str, seed: int) -> None:
        self._params = tuple(params)
        self._goal = goal
        self._seed = seed
        sizes = [p.size for p in self._params]
        finite = [s for s in sizes if s is not None]
        self._size = math.prod(finite) if len(finite) == len(sizes) else None

    def size(self) -> int | None:
        """The number of distinct points of a finite space; None when it is infinite."""
        return self._size

    def uses_trials(self) -> bool:
        """False when ``sample`` ignores its trials (random points of an infinite space)."""
        return self._size is not None

    def sample(self, index: int, trials: Sequence[Trial]) -> dict[str, Any] | None:
        """The values for child ``index`` given the trials so far; None when none is left."""
        used = self._used(trials) if self._size is not None else set()
        if self._size is not None and len(used) >= self._size:
            return None
        with _quiet_optuna():
            raw = self._propose(index, trials)
        if self._size is not None and self._rank(raw) in used:
            raw = self._unused(index, used)
        return self._values(raw)

    def _propose(self, index: int, trials: Sequence[Trial]) -> dict[str, Any]:
        # late: optuna is a heavy import (~0.3 s); only the agent's sweep loop needs it
        import optuna

        sampler = optuna.samplers.RandomSampler(seed=_derive(self._seed, index, "random"))
        return self._ask(optuna.create_study(sampler=sampler))

    def _ask(self, study: optuna.Study) -> dict[str, Any]:
        return dict(study.ask({p.key: p.distribution() for p in self._params}).params)

    def _values(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return {p.key: p.to_value(raw[p.key]) for p in self._params}

    def _raws(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """A trial's values as underlying variables; None when they are not of this space."""
        raws = {}
        for p in self._params:
            raw = p.to_raw(params[p.key]) if p.key in params else None
            if raw is None:
                return None
            raws[p.key] = raw
        return raws

    def _rank(self, raw: Mapping[str, Any]) -> int:
        """A point of a finite space as one number: mixed radix over the keys in order."""
        rank = 0
        for p in self._params:
            rank = rank * (p.size or 1) + int(raw[p.key])
        return rank

    def _used(self, trials: Sequence[Trial]) -> set[int]:
        found = (self._raws(t.params) for t in trials)
        return {self._rank(raw) for raw in found if raw is not None}

    def _unused(self, index: int, used: set[int]) -> dict[str, int]:
        """A seeded pick among the unused points, without listing the space."""
        assert self._size is not None
        # 32 bits of seed: as good as uniform for any space a sweep can use up
        rank = _derive(self._seed, index, "unused") % (self._size - len(used))
        for taken in sorted(used):  # the rank-th unused point: step over the used below it
            if taken > rank:
                break
            rank += 1
        raw = {}
        for p in reversed(self._params):
            rank, raw[p.key] = divmod(rank, p.size or 1)
        return raw


class _GridSampler(Sampler):
    """GRID: every combination once, in GridSampler's seeded order."""

    def __init__(self, params: Sequence[_Param], *, goal: str, seed: int) -> None:
        super().__init__(params, goal=goal, seed=seed)
        self._order: list[dict[str, Any]] = []  # a function of (space, seed) only: cached
        self._study: optuna.Study | None = None

    def sample(self, index: int, trials: Sequence[Trial]) -> dict[str, Any] | None:
        """The first point of the grid's order no trial has used; None when all are used."""
        assert self._size is not None
        used = self._used(trials)
        if len(used) >= self._size:
            return None
        for position in range(self._size):
            raw = self._grid_point(position)
            if self._rank(raw) not in used:
                return self._values(raw)
        raise AssertionError("unreachable: fewer used points than the grid has")

    def _grid_point(self, position: int) -> dict[str, Any]:
        """The position-th point of GridSampler's order, asked of it one trial at a time."""
        # late: optuna is a heavy import (~0.3 s); only the agent's sweep loop needs it
        import optuna

        with _quiet_optuna():
            if self._study is None:
                space = {p.key: list(range(len(p.options))) for p in self._params}
                grid = optuna.samplers.GridSampler(space, seed=_derive(self._seed, 0, "grid"))
                self._study = optuna.create_study(sampler=grid)
            while len(self._order) <= position:  # trial number k gets the k-th point
                self._order.append(self._ask(self._study))
        return self._order[position]


class _BayesianSampler(Sampler):
    """BayesianOptimization: TPE over a study rebuilt from the finished trials."""

    def uses_trials(self) -> bool:
        return True

    def _propose(self, index: int, trials: Sequence[Trial]) -> dict[str, Any]:
        # late: optuna is a heavy import (~0.3 s); only the agent's sweep loop needs it
        import optuna

        sampler = optuna.samplers.TPESampler(seed=_derive(self._seed, index, "tpe"))
        maximize = self._goal == "maximize"
        direction: Literal["maximize", "minimize"] = "maximize" if maximize else "minimize"
        study = optuna.create_study(direction=direction, sampler=sampler)
        distributions = {p.key: p.distribution() for p in self._params}
        for trial in sorted(trials, key=lambda t: t.index):  # stable: the caller's order
            if not trial.finished or trial.value is None or not math.isfinite(trial.value):
                continue
            raws = self._raws(trial.params)
            if raws is not None:
                frozen = optuna.trial.create_trial(
                    params=raws, distributions=distributions, value=float(trial.value)
                )
                study.add_trial(frozen)
        return self._ask(study)


_SAMPLERS: dict[str, type[Sampler]] = {
    "random": Sampler,
    "grid": _GridSampler,
    "bayesianoptimization": _BayesianSampler,
}


def make_sampler(generator_config: Mapping[str, Any], goal: str, seed: int) -> Sampler:
    """The sampler for v1's ``generator_config`` (``RANDOM``, ``GRID`` or
    ``BayesianOptimization``, in any case), the goal (``maximize``/``minimize``, any case)
    and the sweep's seed. Raises UserErrorException for an unknown sampler, goal or
    expression, an expression's bad arguments, and a grid over anything but choice."""
    name = str(generator_config.get("name", ""))
    kind = _SAMPLERS.get(name.lower())
    if kind is None:
        raise UserErrorException(
            f"Unknown sampling {name!r} in generator_config; expected RANDOM, GRID or "
            "BayesianOptimization (RandomParameterSampling, GridParameterSampling, "
            "BayesianParameterSampling)."
        )
    if goal.lower() not in _GOALS:
        raise UserErrorException(f"Unknown primary metric goal {goal!r}; use MAXIMIZE or MINIMIZE.")
    space = generator_config.get("parameter_space")
    if not isinstance(space, Mapping) or not space:
        raise UserErrorException(
            f"generator_config's parameter_space is {space!r}; it must be a non-empty dict "
            "of argument name -> parameter expression."
        )
    params = [_parse(str(key), expression) for key, expression in space.items()]
    others = [p.key for p in params if p.kind != "choice"]
    if kind is _GridSampler and others:
        raise UserErrorException(
            f"GridParameterSampling takes only choice(); {', '.join(others)} use other "
            "expressions. Use RandomParameterSampling, or list the values with choice()."
        )
    return kind(params, goal=goal.lower(), seed=seed)
