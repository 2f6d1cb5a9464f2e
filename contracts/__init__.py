"""The example contracts, shipped as package data (``outcome_pulse.contracts``)."""
