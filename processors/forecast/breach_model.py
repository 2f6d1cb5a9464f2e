"""The per-item breach probability model, learned online in event time.

What it learns and when (settled cases in their training order, a model per instant) is
``training.TrainingLedger``; this module is the model itself.

The model, chosen by measuring (``python -m bench.prediction``; README): online logistic
regression (river) on standardised numbers, one-hot categories and online target encodings of
the categories (``OnlineLogistic``), followed by an online Platt step (``calibration``). River's
Hoeffding adaptive tree and adaptive random forest, and histogram-binning calibration, were
measured worse on the Volvo and help desk logs (AUC and Brier at 1 h, 8 h and 24 h). A clock
already past its target has breached (its elapsed time never goes down): probability 1. Before
``MIN_LEARNED`` cases the forecaster answers ``None`` (no model yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from river import linear_model, optim

from outcome_pulse.processors.forecast.calibration import PlattCalibrator
from outcome_pulse.processors.forecast.features import (
    NUMERIC_FEATURES,
    Features,
)

MIN_LEARNED = 30


class ScoreModel(Protocol):
    """An online binary classifier: a raw breach score in [0, 1], and learning one case."""

    def score(self, x: Features) -> float: ...

    def learn(self, x: Features, breached: bool) -> float:
        """Learn one case; return its score from before (what the calibrator learns)."""
        ...


class OnlineLogistic:
    """river's logistic regression on standardised numbers, one-hot categories and the
    categories' own breach rates.

    Numbers are standardised by their running mean and variance (Welford). Each category value
    becomes a ``name=value`` indicator and, as a number, the log-odds of the breach rate of the
    cases with that value learned before (shrunk to the overall rate with the weight of
    ``ENCODING_WEIGHT`` cases; online target encoding, measured to matter for many-valued
    attributes such as product or support team). The linear model (river's
    ``LogisticRegression``, plain SGD) does the learning. This is river's
    ``StandardScaler | OneHotEncoder`` pipeline written out, about ten times cheaper per case
    (55 against 510 microseconds, measured).
    """

    ENCODING_WEIGHT = 20.0

    def __init__(self, learning_rate: float = 0.005, l2: float = 1e-4) -> None:
        self.linear = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)
        self._n = 0
        self._breaches = 0
        self._mean = dict.fromkeys(NUMERIC_FEATURES, 0.0)
        self._m2 = dict.fromkeys(NUMERIC_FEATURES, 0.0)
        self._seen: dict[str, list[int]] = {}

    def _vector(self, x: Features) -> dict[str, float]:
        out: dict[str, float] = {}
        overall = (self._breaches + 1.0) / (self._n + 2.0)
        base = math.log(overall / (1 - overall))
        weight = self.ENCODING_WEIGHT
        for name, value in x.items():
            if isinstance(value, str):
                key = name + "=" + value
                out[key] = 1.0
                seen = self._seen.get(key)
                if seen is None:
                    out["rate_" + name] = 0.0
                else:
                    rate = (seen[1] + weight * overall) / (seen[0] + weight)
                    out["rate_" + name] = math.log(rate / (1 - rate)) - base
            elif self._n > 1:
                var = self._m2[name] / self._n
                out[name] = (value - self._mean[name]) / math.sqrt(var) if var > 0 else 0.0
            else:
                out[name] = 0.0
        return out

    def _observe(self, x: Features, breached: bool) -> None:
        self._n += 1
        self._breaches += 1 if breached else 0
        for name, value in x.items():
            if isinstance(value, str):
                counts = self._seen.setdefault(f"{name}={value}", [0, 0])
                counts[0] += 1
                counts[1] += 1 if breached else 0
                continue
            delta = value - self._mean[name]
            self._mean[name] += delta / self._n
            self._m2[name] += delta * (value - self._mean[name])

    def score(self, x: Features) -> float:
        proba = self.linear.predict_proba_one(self._vector(x))  # type: ignore[no-untyped-call]
        return float(proba.get(True, 0.0))

    def learn(self, x: Features, breached: bool) -> float:
        vector = self._vector(x)  # as it would have been predicted: before counting the case
        proba = self.linear.predict_proba_one(vector)  # type: ignore[no-untyped-call]
        self.linear.learn_one(vector, breached)
        self._observe(x, breached)
        return float(proba.get(True, 0.0))


def default_model() -> ScoreModel:
    return OnlineLogistic()


@dataclass(slots=True)
class CalibratedModel:
    """A score model followed by the binning calibrator, updated prequentially."""

    model: ScoreModel
    calibrator: PlattCalibrator = field(default_factory=PlattCalibrator)
    learned: int = 0
    breaches: int = 0

    def probability(self, x: Features) -> float:
        return self.calibrator.calibrate(self.model.score(x))

    def learn(self, x: Features, breached: bool) -> None:
        # The score before learning, from the one feature vector the model learns with.
        self.calibrator.learn(self.model.learn(x, breached), breached)
        self.learned += 1
        self.breaches += 1 if breached else 0

    @property
    def prior(self) -> float | None:
        """The share of learned cases that breached (None before any)."""
        return self.breaches / self.learned if self.learned else None
