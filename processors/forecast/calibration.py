"""Keeping a model's probabilities honest: an online Platt step.

The model's raw score ``s`` becomes ``sigmoid(a * logit(s) + b)``, with ``a`` (from 1) and ``b``
(from 0) learned by stochastic gradient descent on the log loss, *prequentially*: a case's raw
score is taken before the model learns from it, as it would have been predicted. It corrects a
score that drifts too confident, too shy, or off the current base rate, and it leaves a calibrated
score as it is. Measured against histogram binning (20 bins with decayed counts): binning lost
AUC and Brier on the help desk and Volvo logs (``python -m bench.prediction``), this does not.
A fixed learning order makes it exactly reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LEARNING_RATE = 0.002
_EPS = 1e-6


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


@dataclass(slots=True)
class PlattCalibrator:
    slope: float = 1.0
    intercept: float = 0.0

    def calibrate(self, score: float) -> float:
        return _sigmoid(self.slope * _logit(score) + self.intercept)

    def learn(self, score: float, breached: bool) -> None:
        z = _logit(score)
        error = self.calibrate(score) - (1.0 if breached else 0.0)
        self.slope -= LEARNING_RATE * error * z
        self.intercept -= LEARNING_RATE * error
