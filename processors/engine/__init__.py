"""The incremental contract engine (see ``engine``): one module per KPI kind (``kpis/``) and per
indicator family (``indicators/``), on two aggregators (``multisets``) of item contributions
(``contribution``), kept per service (``service``)."""

from outcome_pulse.processors.engine.engine import ContractEngine
from outcome_pulse.processors.engine.help import INDICATOR_HELP
from outcome_pulse.processors.engine.open_clocks import read_open_clocks
from outcome_pulse.processors.engine.results import Evaluation, Observed, Step

__all__ = ["INDICATOR_HELP", "ContractEngine", "Evaluation", "Observed", "Step", "read_open_clocks"]
