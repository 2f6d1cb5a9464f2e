"""What travels on the wire: the CloudEvents envelope of an event, and dead letters."""
