"""Forecasting in event time: per-item breach probabilities, period forecasts, drift signals.

Pure computation (no I/O), fed through a small interface so the engine behind it can change:

* ``features.ClockSnapshot`` / ``SettledCase``: an open clock as known at an instant, and how
  it ended (built today by ``item_clocks`` from ``ItemHistory``);
* ``training.TrainingLedger``: learns settled cases online in training-time order (stop +
  allowed lateness), so the model at an instant is a function of the events only, and answers
  P(breach) for a snapshot with ``breach_model``'s calibrated online model.

What the alerting side consumes (plain dataclasses, see ``signals``): ``ClockRisk`` (per open
clock: breach probability and time left), ``PeriodForecast`` (per KPI and running period), and
``DriftSignal`` (per leading indicator).
"""
