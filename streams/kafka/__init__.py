"""The Kafka side: the faust app, its codecs and topics, the batch handler and the worker."""
