"""Alert rules evaluated in event time from the contract engine's outputs (pure, no I/O).

``rules``: the typed rule definitions, their defaults and the per-contract / per-KPI overrides
(the contract's ``alerts:`` section); ``inputs``: what the rules read (per-KPI good/bad counts on
event-time grids, items at risk, breach predictions, period forecasts, drift signals);
``burn_rate``, ``budget``, ``forecast_miss``, ``item_breach``, ``drift``: one rule each;
``evaluate``: all rules of a contract into ``AlertEpisode`` rows (``pulse_alerts``);
``quality``: how the episodes did against the periods' outcomes (lead time, precision, recall).
"""
