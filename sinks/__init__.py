"""Where results leave the pipeline: PostgreSQL/TimescaleDB, Prometheus, Alertmanager, Grafana."""
