"""The Kafka side of Outcome Pulse: event schemas, topics, replay, the faust worker and the CLI."""
