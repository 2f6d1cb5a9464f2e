"""Which tests must run alone: those that stop, restart or reconfigure a service of the shared
test stack (Kafka, PostgreSQL, Alertmanager, Prometheus).

``scripts/test.sh`` runs the stack tests in two parts on one stack: ``-m "not exclusive" -n 2``
(two pytest-xdist processes, each test in sandboxes of its own: tests/support/sandbox.py), then
``-m exclusive`` alone. A test that restarted Kafka in the parallel part would break whatever
test runs beside it, in a way that looks like a flaky failure of that other test.

So nothing relies on remembering the marker: ``tests/conftest.py`` refuses to collect (a usage
error, before any test runs) a test that reaches a stack control without one of two markers:

- ``exclusive``: it acts on the shared stack; run alone, after the parallel part;
- ``private_stack``: it drives ``deploy/local/stack.sh`` only on ports and a state directory of
  its own, so it may run beside others.

A test reaches a stack control when its function (or class), a module-level function or fixture
of its module that it names (fixtures by argument name), or a function anywhere under tests/ of
that name, refers to ``run_stack_script`` or to a string naming ``stack.sh`` (docstrings aside).
The search is by name, on the source: it errs towards asking for a marker, never towards
missing one that a direct or indirect call needs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

EXCLUSIVE = "exclusive"
PRIVATE_STACK = "private_stack"
STACK_CONTROLS = frozenset({"run_stack_script"})
STACK_SCRIPT = "stack.sh"
MODULE_LEVEL = "<module>"


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _references(node: ast.AST) -> tuple[set[str], bool]:
    """The names ``node`` refers to (names, attributes, argument names), and whether one of its
    strings (docstrings aside) names the stack script."""
    names: set[str] = set()
    script = False
    stack: list[ast.AST] = [node]
    while stack:
        here = stack.pop()
        if isinstance(here, ast.Name):
            names.add(here.id)
        elif isinstance(here, ast.Attribute):
            names.add(here.attr)
        elif isinstance(here, ast.alias):
            names.add(here.asname or here.name.rsplit(".", 1)[-1])
            names.add(here.name.rsplit(".", 1)[-1])
        elif isinstance(here, ast.arg):
            names.add(here.arg)  # a fixture by its argument name
        elif isinstance(here, ast.Constant) and isinstance(here.value, str):
            script = script or STACK_SCRIPT in here.value
        body = getattr(here, "body", None)
        for child in ast.iter_child_nodes(here):
            if isinstance(body, list) and child is body[0] and _is_docstring(child):
                continue
            stack.append(child)
    return names, script


@dataclass(frozen=True)
class ModuleUse:
    """Per top-level function or class of a module (and ``<module>`` for the statements outside
    them), the names it refers to and whether it names the stack script itself."""

    names: Mapping[str, frozenset[str]]
    script: frozenset[str]
    aliases: Mapping[str, frozenset[str]]  # a name imported ``as`` another: the other names


def module_use(source: str) -> ModuleUse:
    tree = ast.parse(source)
    names: dict[str, frozenset[str]] = {}
    script: set[str] = set()
    outside: set[str] = set()
    outside_script = False
    aliases: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.alias) and node.asname:
            aliases.setdefault(node.name.rsplit(".", 1)[-1], set()).add(node.asname)
    for statement in tree.body:
        if _is_docstring(statement) or isinstance(statement, ast.Import | ast.ImportFrom):
            continue  # an import binds a name; a use of it is what counts
        refs, mentions = _references(statement)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # Decorators count as the definition's own references (a fixture's params, ...).
            names[statement.name] = frozenset(refs - {statement.name})
            if mentions:
                script.add(statement.name)
        else:
            outside |= refs
            outside_script = outside_script or mentions
    names[MODULE_LEVEL] = frozenset(outside)
    if outside_script:
        script.add(MODULE_LEVEL)
    return ModuleUse(names, frozenset(script), {k: frozenset(v) for k, v in aliases.items()})


def reaching(use: ModuleUse, controls: Iterable[str]) -> frozenset[str]:
    """The top-level definitions of the module (and ``<module>``) that reach a stack control:
    directly, or through another definition of the module they name."""
    controls = frozenset(controls)
    controls |= {a for name in controls for a in use.aliases.get(name, ())}
    found = set(use.script) | {n for n, refs in use.names.items() if refs & controls}
    while True:
        more = {n for n, refs in use.names.items() if n not in found and refs & found}
        if not more:
            return frozenset(found)
        found |= more


def helper_controls(sources: Iterable[str]) -> frozenset[str]:
    """``STACK_CONTROLS`` and the name of every top-level function of ``sources`` (the files of
    the test tree) that reaches one, to a fixed point (a helper calling a helper elsewhere)."""
    uses = [module_use(s) for s in sources]
    controls = set(STACK_CONTROLS)
    while True:
        more = {n for use in uses for n in reaching(use, controls) if n != MODULE_LEVEL} - controls
        if not more:
            return frozenset(controls)
        controls |= more


@dataclass(frozen=True)
class Collected:
    """What the check needs of a collected test."""

    nodeid: str
    path: Path
    top_level: str  # its function's or class's name in the module
    markers: frozenset[str]


def unmarked(
    tests: Iterable[Collected], controls: frozenset[str], read: dict[Path, ModuleUse]
) -> list[str]:
    """A message for each test that reaches a stack control without ``exclusive`` or
    ``private_stack``, or that carries both."""
    problems: list[str] = []
    reached: dict[Path, frozenset[str]] = {}
    for test in tests:
        if test.path not in reached:
            reached[test.path] = reaching(read[test.path], controls)
        both = {EXCLUSIVE, PRIVATE_STACK} <= test.markers
        if both:
            problems.append(f"{test.nodeid}: marked both {EXCLUSIVE} and {PRIVATE_STACK}")
            continue
        here = reached[test.path]
        if (test.top_level in here or MODULE_LEVEL in here) and not (
            test.markers & {EXCLUSIVE, PRIVATE_STACK}
        ):
            problems.append(
                f"{test.nodeid} reaches a stack control ({', '.join(sorted(STACK_CONTROLS))} or "
                f"{STACK_SCRIPT}) but is not marked @pytest.mark.{EXCLUSIVE} (it acts on the "
                f"shared stack: run alone) or @pytest.mark.{PRIVATE_STACK} (a stack of its own)"
            )
    return problems
