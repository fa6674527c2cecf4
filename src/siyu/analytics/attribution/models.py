"""Attribution models as pure functions over encoded journeys (no warehouse, no I/O).

Journeys are held flat (one array of channel codes for every touch, with offsets per path) so
every model is a handful of vectorised NumPy operations whether there are ten paths or a
million conversions. Each heuristic model gives every touch a weight that sums to 1 over its
path; a path's conversions and value are then credited by those weights, so every model
preserves the input totals exactly.

Markov is the exact first-order absorbing chain (one matrix inverse, no simulation) and Shapley
is the closed form of Zhao, Mahboobi & Bagheri (2018). The definitions, with their conventions,
are in ``docs/analytics/attribution.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Models in the order reports show them.
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")


@dataclass(frozen=True)
class Paths:
    """Journeys, flat: path ``i`` is ``codes[offsets[i]:offsets[i + 1]]`` (channel codes into
    ``channels``, in time order), with its conversions, value and null (non-converting) count.

    ``ages`` holds each touch's time before its conversion in days, when known (journeys from
    the warehouse); aggregated paths have none and time decay falls back to positions.
    """

    channels: tuple[str, ...]
    offsets: np.ndarray
    codes: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    ages: np.ndarray | None = None

    @classmethod
    def from_lists(
        cls,
        paths: Sequence[Sequence[str]],
        conversions: Sequence[float],
        value: Sequence[float],
        nulls: Sequence[float],
    ) -> Paths:
        """Encode channel names (codes in order of first appearance)."""
        index: dict[str, int] = {}
        flat: list[int] = []
        lengths = np.empty(len(paths), dtype=np.int64)
        for i, path in enumerate(paths):
            if not path:
                raise ValueError(f"path {i} has no channel")
            lengths[i] = len(path)
            flat.extend(index.setdefault(name, len(index)) for name in path)
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(
            channels=tuple(index),
            offsets=offsets,
            codes=np.asarray(flat, dtype=np.int64),
            conversions=np.asarray(conversions, dtype=np.float64),
            value=np.asarray(value, dtype=np.float64),
            nulls=np.asarray(nulls, dtype=np.float64),
        )

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        """For every touch, the index of its path."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    @property
    def position(self) -> np.ndarray:
        """For every touch, its 0-based position in its path."""
        return np.arange(len(self.codes)) - np.repeat(self.offsets[:-1], self.lengths)


@dataclass(frozen=True)
class Attribution:
    """Conversions and value credited to each channel (index = channel code)."""

    channels: tuple[str, ...]
    conversions: np.ndarray
    value: np.ndarray
    #: Markov only: each channel's removal effect.
    removal_effects: np.ndarray | None = None


def _credit(paths: Paths, weights: np.ndarray) -> Attribution:
    """Credit each path's conversions and value to its touches by ``weights`` (summing to 1 per
    path)."""
    owner = paths.path_of_touch
    k = len(paths.channels)
    conv = np.bincount(paths.codes, weights * paths.conversions[owner], minlength=k)
    val = np.bincount(paths.codes, weights * paths.value[owner], minlength=k)
    return Attribution(paths.channels, conv, val)


def _normalise(paths: Paths, raw: np.ndarray) -> np.ndarray:
    owner = paths.path_of_touch
    return raw / np.bincount(owner, raw, minlength=len(paths.lengths))[owner]


def first_touch(paths: Paths) -> Attribution:
    return _credit(paths, (paths.position == 0).astype(np.float64))


def last_touch(paths: Paths) -> Attribution:
    last = paths.position == paths.lengths[paths.path_of_touch] - 1
    return _credit(paths, last.astype(np.float64))


def linear(paths: Paths) -> Attribution:
    """Every touch an equal share (a channel touched twice gets two shares)."""
    return _credit(paths, 1.0 / paths.lengths[paths.path_of_touch])


def time_decay(paths: Paths, half_life: float = 7.0) -> Attribution:
    """Weights ``2^(−age / half_life)``, age = time before the conversion. Without times the age
    is the number of touches after this one (the last touch 0, the one before it 1, …)."""
    if half_life <= 0:
        raise ValueError("half_life must be positive")
    owner = paths.path_of_touch
    if paths.ages is not None:
        ages = paths.ages
    else:
        ages = (paths.lengths[owner] - 1 - paths.position).astype(np.float64)
    # Relative to the path's youngest touch: the same normalised weights, and a path whose
    # touches are all very old cannot underflow to 0/0.
    youngest = np.full(len(paths.lengths), np.inf)
    np.minimum.at(youngest, owner, ages)
    raw = np.exp2(-(ages - youngest[owner]) / half_life)
    return _credit(paths, _normalise(paths, raw))


def position_based(paths: Paths, ends: float = 0.4) -> Attribution:
    """40 % to the first touch, 40 % to the last, 20 % shared by the touches between; a path of
    one touch gives it 100 %, a path of two 50/50."""
    owner = paths.path_of_touch
    length = paths.lengths[owner]
    pos = paths.position
    middle = np.where(length > 2, (1.0 - 2 * ends) / np.maximum(length - 2, 1), 0.0)
    edge = np.where(length == 1, 1.0, np.where(length == 2, 0.5, ends))
    weights = np.where((pos == 0) | (pos == length - 1), edge, middle)
    return _credit(paths, weights)


def shapley(paths: Paths) -> Attribution:
    """Shapley values of the game v(S) = conversions (value) of journeys whose channels all lie
    in S: each journey's conversions split equally among its *distinct* channels (Zhao,
    Mahboobi & Bagheri 2018), so repeated touches of one channel do not add credit."""
    owner = paths.path_of_touch
    order = np.lexsort((paths.codes, owner))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (owner[order][1:] != owner[order][:-1]) | (paths.codes[order][1:] != paths.codes[order][:-1])
    is_first = np.empty_like(first)
    is_first[order] = first
    distinct = np.bincount(owner, is_first.astype(np.float64), minlength=len(paths.lengths))
    return _credit(paths, is_first / distinct[owner])


def transition_counts(paths: Paths) -> np.ndarray:
    """Transition counts of the chain over states ``0`` = start, ``1..K`` = channels, ``K+1`` =
    conversion, ``K+2`` = null. A path with C conversions and N nulls is walked C + N times:
    every step counts C + N, the final step C times into conversion and N times into null.
    Repeated touches of a channel are kept as self-loops (ChannelAttribution's default)."""
    k = len(paths.channels)
    size = k + 3
    conv, null = k + 1, k + 2
    owner = paths.path_of_touch
    walks = paths.conversions + paths.nulls
    state = paths.codes + 1
    last = paths.position == paths.lengths[owner] - 1
    nxt = np.empty_like(state)
    nxt[:-1] = state[1:]
    inner = ~last
    starts = state[paths.offsets[:-1]]
    ends = state[last]
    src = np.concatenate([np.zeros(len(starts), np.int64), state[inner], ends, ends])
    dst = np.concatenate([starts, nxt[inner], np.full(len(ends), conv), np.full(len(ends), null)])
    wts = np.concatenate([walks, walks[owner][inner], paths.conversions, paths.nulls])
    counts = np.bincount(src * size + dst, wts, minlength=size * size)
    return counts.reshape(size, size)


def absorbing_chain(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Q, r)``: transition probabilities among the transient states (start and channels) and
    into conversion. A state never left in the data (no outgoing count) is sent to null."""
    k1 = counts.shape[0] - 2  # start + channels
    out = counts[:k1].sum(axis=1)
    probs = np.divide(counts[:k1], out[:, None], out=np.zeros_like(counts[:k1]), where=out[:, None] > 0)
    return probs[:, :k1], probs[:, k1]


def removal_effects(paths: Paths) -> tuple[float, np.ndarray]:
    """``P(conversion)`` from start and each channel's removal effect
    ``1 − P(conversion without the channel) / P(conversion)``, exactly.

    With ``N = (I − Q)⁻¹`` (expected visits) and ``x = N r`` (conversion probability from each
    state), the walks that convert *through* channel c are those that reach c and convert from
    there: ``P(reach c) · x_c`` with ``P(reach c) = N[start, c] / N[c, c]`` (strong Markov
    property). Removing c (its visits redirected to null) loses exactly those, so
    ``effect_c = N[start, c] · x_c / (N[c, c] · x_start)`` — one inverse for every channel.
    """
    q, r = absorbing_chain(transition_counts(paths))
    fundamental = np.linalg.inv(np.eye(q.shape[0]) - q)
    x = fundamental @ r
    p_conv = float(x[0])
    if p_conv <= 0:
        return 0.0, np.zeros(len(paths.channels))
    diag = np.diag(fundamental)[1:]
    effects = fundamental[0, 1:] * x[1:] / (diag * p_conv)
    return p_conv, np.clip(effects, 0.0, 1.0)


def markov(paths: Paths) -> Attribution:
    """Conversions and value shared in proportion to the removal effects."""
    _, effects = removal_effects(paths)
    total = effects.sum()
    share = effects / total if total > 0 else np.zeros_like(effects)
    return Attribution(
        paths.channels,
        share * paths.conversions.sum(),
        share * paths.value.sum(),
        removal_effects=effects,
    )


def attribute(paths: Paths, model: str, half_life: float = 7.0) -> Attribution:
    """Run one model by name."""
    models: dict[str, Callable[[Paths], Attribution]] = {
        "first_touch": first_touch,
        "last_touch": last_touch,
        "linear": linear,
        "time_decay": lambda p: time_decay(p, half_life),
        "position_based": position_based,
        "markov": markov,
        "shapley": shapley,
    }
    try:
        return models[model](paths)
    except KeyError:
        raise ValueError(f"unknown model {model!r}; one of {', '.join(MODELS)}") from None
