"""Breach predictions and period forecasts, measured against the alternatives on any export.

    .venv/bin/python -m bench.prediction DATA --mapping M --contract C [--plot reliability.png]

Per item (time-to-target and on-time ratio KPIs): every item still open 1 h, 8 h and 24 h after
its opening is a test case; its label is whether its clock breached when it next stopped
(items never settled in the export are left out, and counted). Items are split by opening time:
the first 70% train, the last 30% are tested, the same test cases for every method:

* ``online``: the project's model (``forecast.breach_model``), learning in event time
  from every clock settled behind the watermark of the prediction instant (training items and
  the earlier test items alike: that is what it would have known);
* ``share rule``: the share of the target elapsed (capped at 1), the ITSM tools' rule;
* ``prior``: the breach rate of the training items open at that checkpoint, a constant;
* ``offline GBM``: scikit-learn's HistGradientBoostingClassifier on the same features, trained
  once on the training items' cases (the same ladder of ages the online model learns from).

A clock already past its target has breached: every model but the prior says 1 there.
Reported: AUC, Brier score and expected calibration error (10 equal-width bins), and a
reliability plot (PNG). The period forecast part is described in ``period_section``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.forecast.features import (
    NUMERIC_FEATURES,
    ClockSnapshot,
    SettledCase,
    features,
)
from outcome_pulse.processors.forecast.item_clocks import ItemClock, forecastable, item_clocks
from outcome_pulse.processors.forecast.period_outlook import period_forecasts
from outcome_pulse.processors.forecast.training import predictions_over_time
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import BacktestResult, backtest_file
from outcome_pulse.streams.file_import.mapping import load_mapping

CHECKPOINTS = (timedelta(hours=1), timedelta(hours=8), timedelta(hours=24))
TRAIN_SHARE = 0.7
METHODS = ("online", "share rule", "prior", "offline GBM")


@dataclass(frozen=True)
class TestCase:
    checkpoint: timedelta
    snapshot: ClockSnapshot
    breached: bool


@dataclass(frozen=True)
class Score:
    n: int
    positives: int
    auc: float | None
    brier: float
    ece: float


def split_items(clocks: Sequence[ItemClock]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """Items by opening time (then key): the first 70% train, the rest test."""
    items: dict[tuple[str, str], ItemHistory] = {c.item.key: c.item for c in clocks}
    ordered = sorted(items.values(), key=lambda i: (i.opened_at, i.key))
    cut = int(len(ordered) * TRAIN_SHARE)
    return {i.key for i in ordered[:cut]}, {i.key for i in ordered[cut:]}


def collect(
    result: BacktestResult,
) -> tuple[list[ItemClock], list[tuple[tuple[str, str], SettledCase]]]:
    """Every item clock, and every settled case with its item's key."""
    assert result.engine is not None
    clocks: list[ItemClock] = []
    for service, items in result.engine.service_items().items():
        clocks.extend(item_clocks(result.contract, service, items))
    cases = [(clock.item.key, case) for clock in clocks for case in clock.settled_cases()]
    return clocks, cases


def test_cases(
    clocks: Sequence[ItemClock], test: set[tuple[str, str]]
) -> tuple[list[TestCase], int]:
    out: list[TestCase] = []
    unsettled = 0
    for clock in clocks:
        if clock.item.key not in test:
            continue
        for checkpoint in CHECKPOINTS:
            moment = clock.item.opened_at + checkpoint
            snapshot = clock.snapshot(moment)
            if snapshot is None:
                continue
            settled = clock.settlement_after(moment)
            if settled is None:
                unsettled += 1
                continue
            out.append(TestCase(checkpoint, snapshot, settled[1]))
    return out, unsettled


# -- metrics ---------------------------------------------------------------------------------


def auc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (ties count half); None with one class only."""
    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        return None
    pairs = sorted(zip(scores, labels, strict=True))
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # mean 1-based rank of the tie group
        rank_sum += mid * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def brier(labels: Sequence[bool], probs: Sequence[float]) -> float:
    return sum((p - (1.0 if y else 0.0)) ** 2 for y, p in zip(labels, probs, strict=True)) / len(
        labels
    )


def ece(labels: Sequence[bool], probs: Sequence[float], bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        chosen = [
            (y, p) for y, p in zip(labels, probs, strict=True) if min(int(p * bins), bins - 1) == b
        ]
        if chosen:
            rate = sum(1 for y, _ in chosen if y) / len(chosen)
            mean = sum(p for _, p in chosen) / len(chosen)
            total += len(chosen) * abs(rate - mean)
    return total / len(labels)


def score(labels: Sequence[bool], probs: Sequence[float]) -> Score:
    return Score(
        len(labels), sum(labels), auc(labels, probs), brier(labels, probs), ece(labels, probs)
    )


# -- the methods -----------------------------------------------------------------------------


def online_probabilities(
    cases: Sequence[SettledCase], tests: Sequence[TestCase], lateness: timedelta
) -> dict[tuple[Any, ...], float | None]:
    answers = predictions_over_time([t.snapshot for t in tests], cases, lateness)
    return {snapshot.key: p for snapshot, p in answers}


class OfflineGbm:
    """HistGradientBoostingClassifier on the same features (categories: the training set's 250
    most frequent values of each, the rest pooled)."""

    def __init__(self, cases: Sequence[SettledCase]) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        rows = [features(c.snapshot) for c in cases]
        self.categorical = sorted({k for r in rows for k in r if k not in NUMERIC_FEATURES})
        self.codes: dict[str, dict[str, int]] = {}
        for name in self.categorical:
            counts: dict[str, int] = {}
            for r in rows:
                value = str(r.get(name, "-"))
                counts[value] = counts.get(value, 0) + 1
            top = sorted(counts, key=lambda v: (-counts[v], v))[:250]
            self.codes[name] = {v: i for i, v in enumerate(top)}
        mask = [False] * len(NUMERIC_FEATURES) + [True] * len(self.categorical)
        self.model = HistGradientBoostingClassifier(
            categorical_features=mask, random_state=0, max_iter=200
        )
        self.model.fit(self.matrix(rows), [c.breached for c in cases])

    def matrix(self, rows: Sequence[dict[str, float | str]]) -> Any:
        import numpy as np

        out = []
        for r in rows:
            line = [float(r[k]) for k in NUMERIC_FEATURES]
            for name in self.categorical:
                line.append(float(self.codes[name].get(str(r.get(name, "-")), 250)))
            out.append(line)
        return np.array(out, dtype=float)

    def probabilities(self, snapshots: Sequence[ClockSnapshot]) -> list[float]:
        if not snapshots:
            return []
        raw = self.model.predict_proba(self.matrix([features(s) for s in snapshots]))[:, 1]
        return [1.0 if s.breached else float(p) for s, p in zip(snapshots, raw, strict=True)]


def checkpoint_prior(cases: Sequence[TestCase]) -> float:
    return sum(1 for c in cases if c.breached) / len(cases) if cases else 0.0


def train_checkpoint_cases(
    clocks: Sequence[ItemClock], train: set[tuple[str, str]]
) -> list[TestCase]:
    chosen = [c for c in clocks if c.item.key in train]
    cases, _ = test_cases(chosen, {c.item.key for c in chosen})
    return cases


# -- the report ------------------------------------------------------------------------------


def item_section(result: BacktestResult, plot: Path | None) -> list[tuple[str, str, Score]]:
    contract: Contract = result.contract
    started = time.monotonic()
    clocks, keyed = collect(result)
    cases = [case for _, case in keyed]
    train, test = split_items(clocks)
    tests, unsettled = test_cases(clocks, test)
    train_at_checkpoints = train_checkpoint_cases(clocks, train)
    print(
        f"{len(clocks):,} item clocks, {len(cases):,} settled cases to learn from; "
        f"{len(tests):,} test cases ({unsettled:,} never settled in the export, left out); "
        f"built in {time.monotonic() - started:.1f} s"
    )
    started = time.monotonic()
    online = online_probabilities(cases, tests, contract.monitoring.lateness)
    print(f"online model: {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    gbm = OfflineGbm([case for key, case in keyed if key in train])
    print(f"offline GBM fitted in {time.monotonic() - started:.1f} s")
    rows: list[tuple[str, str, Score]] = []
    curves: dict[tuple[str, str], tuple[list[bool], list[float]]] = {}
    for checkpoint in CHECKPOINTS:
        chosen = [t for t in tests if t.checkpoint == checkpoint]
        if not chosen:
            continue
        labels = [t.breached for t in chosen]
        prior = checkpoint_prior([t for t in train_at_checkpoints if t.checkpoint == checkpoint])
        fallback = prior
        answers = {
            "online": [
                p if (p := online[t.snapshot.key]) is not None else fallback for t in chosen
            ],
            "share rule": [min(max(t.snapshot.share_used, 0.0), 1.0) for t in chosen],
            "prior": [prior] * len(chosen),
            "offline GBM": gbm.probabilities([t.snapshot for t in chosen]),
        }
        label = f"{int(checkpoint.total_seconds() // 3600)} h"
        for method in METHODS:
            rows.append((label, method, score(labels, answers[method])))
            curves[(label, method)] = (labels, answers[method])
    print_table(rows)
    if plot is not None:
        reliability_plot(curves, plot, contract.contract)
        print(f"wrote {plot}")
    return rows


def print_table(rows: Sequence[tuple[str, str, Score]]) -> None:
    print()
    print("| after opening | method | n | breached | AUC | Brier | calibration error |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, method, s in rows:
        shown_auc = "-" if s.auc is None else f"{s.auc:.3f}"
        print(
            f"| {label} | {method} | {s.n:,} | {s.positives:,} | {shown_auc} | "
            f"{s.brier:.4f} | {s.ece:.4f} |"
        )


def reliability_plot(
    curves: dict[tuple[str, str], tuple[list[bool], list[float]]], path: Path, title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({k[0] for k in curves}, key=lambda s: int(s.split()[0]))
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4.5), squeeze=False)
    for ax, checkpoint in zip(axes[0], labels, strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        for method in METHODS:
            ys, ps = curves[(checkpoint, method)]
            xs_, rates = [], []
            for b in range(10):
                chosen = [(y, p) for y, p in zip(ys, ps, strict=True) if min(int(p * 10), 9) == b]
                if chosen:
                    xs_.append(sum(p for _, p in chosen) / len(chosen))
                    rates.append(sum(1 for y, _ in chosen if y) / len(chosen))
            ax.plot(xs_, rates, marker="o", label=method)
        ax.set_title(f"{title}: {checkpoint} after opening")
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed breach rate")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


FRACTIONS = (0.25, 0.5, 0.75)
JUDGED = ("met", "below_target", "below_minimum")


def period_section(result: BacktestResult) -> list[tuple[str, str, int, float]]:
    """Brier score of p(meets target) at 25%, 50% and 75% of every judged, final period of the
    forecastable KPIs, against the naive forecast (1 when the attainment to date meets the
    target, else 0; 0.5 with nothing measured yet)."""
    assert result.engine is not None
    contract = result.contract
    outcomes = [
        o
        for o in result.outcomes()
        if o.final
        and o.status in JUDGED
        and forecastable(contract.kpi(o.kpi))
        and not contract.kpi(o.kpi).period.is_rolling
    ]
    instants = {
        o.period_start + (o.period_end - o.period_start) * f: (o, f)
        for o in outcomes
        for f in FRACTIONS
    }
    started = time.monotonic()
    forecasts = period_forecasts(contract, result.engine.service_items(), sorted(instants))
    print(f"{len(forecasts):,} period forecasts in {time.monotonic() - started:.1f} s")
    by_key = {(f.kpi, f.period_start, f.as_of): f for f in forecasts}
    rows: list[tuple[str, str, int, float]] = []
    for fraction in FRACTIONS:
        model: list[float] = []
        naive: list[float] = []
        labels: list[bool] = []
        for at, (o, f) in instants.items():
            if f != fraction or (o.kpi, o.period_start, at) not in by_key:
                continue
            forecast = by_key[(o.kpi, o.period_start, at)]
            labels.append(o.status == "met")
            model.append(forecast.p_meet_target)
            to_date = forecast.attainment_to_date
            naive.append(0.5 if to_date is None else float(to_date >= o.target_level))
        if labels:
            label = f"{int(fraction * 100)}%"
            rows.append((label, "forecast p(meet target)", len(labels), brier(labels, model)))
            rows.append((label, "naive (attainment to date)", len(labels), brier(labels, naive)))
    print()
    print("| into the period | method | periods | Brier |")
    print("|---|---|---:|---:|")
    for label, method, n, b in rows:
        print(f"| {label} | {method} | {n} | {b:.4f} |")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prediction", description=__doc__)
    parser.add_argument("data", type=Path, help="CSV or JSON-lines export (.gz ok)")
    parser.add_argument("--mapping", required=True, help="built-in mapping name or YAML file")
    parser.add_argument("--contract", required=True, type=Path, help="the contract YAML file")
    parser.add_argument("--plot", type=Path, help="write the reliability plot to this PNG")
    parser.add_argument("--limit", type=int, help="read at most this many records")
    parser.add_argument("--skip-items", action="store_true", help="only the period forecasts")
    args = parser.parse_args(argv)
    contract = load_contract(args.contract)
    started = time.monotonic()
    result = backtest_file(
        args.data, load_mapping(args.mapping), contract, limit=args.limit, keep_histories=True
    )
    print(
        f"{args.data.name}: {result.events:,} events evaluated "
        f"in {time.monotonic() - started:.1f} s"
    )
    if not args.skip_items:
        item_section(result, args.plot)
    period_section(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
