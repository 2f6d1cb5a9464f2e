"""Live feeds: the tools where tickets live, in near real time.

``pulse ingest http`` (``webhook_app``) receives their change notifications; ``pulse ingest
poll`` (``poller``) fetches what changed since a durable ``checkpoint``. Both map JSON with a
live mapping (``json_mapping``: the file import's mapping language with field paths) and produce
CloudEvents through ``producer``, answering or advancing only after Kafka acknowledged.
"""
