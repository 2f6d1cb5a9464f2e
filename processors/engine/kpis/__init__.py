"""One module per KPI kind: its indicator series to date and its period measures."""
