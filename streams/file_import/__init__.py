"""File import: readers for exported logs, record mappings, records -> events, timestamps.

The built-in mappings of the example datasets are package data in ``mappings/``.
"""
