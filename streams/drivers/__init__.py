"""Drivers of the contract evaluation: replay to Kafka, backtest over a file, the monitor."""
