"""Where the command line writes: rich consoles that never cut a table when piped.

Rich sizes a console that is not a terminal to 80 columns, so a table written to a file or a
pipe came out with its cells cut to ``2…``. Output that is not a terminal gets a width no table
reaches instead; on a terminal the terminal's width applies as usual.
"""

from __future__ import annotations

from rich.console import Console

UNCUT_WIDTH = 10_000


def output_console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, width=UNCUT_WIDTH)
