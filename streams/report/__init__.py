"""``pulse report``: the monthly evidence report as one self-contained HTML file and its PDF.

Rooms: ``file_source`` and ``db_source`` gather an ``processors.evidence.EvidenceInput`` (from a
backtest of a file, or from the tables the streaming monitor wrote); ``processors.evidence``
assembles the figures; ``charts`` draws them (matplotlib, inline SVG); ``html`` renders the Jinja2
templates (package data); ``browser`` prints the PDF with headless Chromium and, for tests, takes
screenshots and reads back the DOM.
"""
