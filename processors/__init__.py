"""Pure computation for Outcome Pulse: no I/O, no Kafka, no database.

Everything here takes values and returns values, so the same code runs inside the faust worker
and in offline tools. The import-linter contract in pyproject.toml keeps it that way.
"""
