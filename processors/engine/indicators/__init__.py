"""Service indicators, one module per family: backlog, backlog age, flow, at risk."""
