"""Where the command line writes: rich consoles that never cut a table when piped.

Rich sizes a console that is not a terminal to 80 columns, so a table written to a file or a
pipe came out with its cells cut to ``2…``. Output that is not a terminal gets a width no table
reaches instead (rules, which fill the width, stay 100 columns); on a terminal the terminal's
width applies as usual.
"""

from __future__ import annotations

from typing import Any

from rich.align import AlignMethod
from rich.console import Console
from rich.rule import Rule

UNCUT_WIDTH = 10_000
RULE_WIDTH = 100


class _UncutConsole(Console):
    """A console as wide as its widest table; horizontal rules keep a readable width."""

    def rule(
        self,
        title: Any = "",
        *,
        characters: str = "─",
        style: Any = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        self.print(Rule(title, characters=characters, style=style, align=align), width=RULE_WIDTH)


def output_console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    return _UncutConsole(stderr=stderr, width=UNCUT_WIDTH)
