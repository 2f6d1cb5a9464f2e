"""A contract evaluated over a set of events: indicator series and period outcomes.

``ContractEvaluation`` is the one computation both drivers run: the incremental engine of
``outcome_pulse.processors.engine`` (the former full re-derivation is kept as
``outcome_pulse.processors.reference_evaluation``, the oracle the engine is tested against and
the baseline of ``bench.engine_scaling``).
"""

from outcome_pulse.processors.engine import INDICATOR_HELP, Evaluation, Observed, Step
from outcome_pulse.processors.engine import ContractEngine as ContractEvaluation

__all__ = ["INDICATOR_HELP", "ContractEvaluation", "Evaluation", "Observed", "Step"]
