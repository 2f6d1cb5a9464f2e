"""The ``pulse`` command line: the main app, ``pulse backtest``, ``pulse contract``, processes."""
