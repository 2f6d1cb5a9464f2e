"""``pulse dashboards ...``, ``pulse tenants ...``, ``pulse grafana ...``: dashboards as code,
tenant roles, and publishing to a Grafana server. Registered on the main CLI by ``register``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.cli.contract import load_or_exit
from outcome_pulse.streams.cli.output import output_console
from outcome_pulse.streams.settings import PulseSettings

dashboards_app = typer.Typer(
    help="Grafana dashboards generated from contracts.", no_args_is_help=True
)
tenants_app = typer.Typer(
    help="Client database roles (row-level security) and the provider's role.",
    no_args_is_help=True,
)
grafana_app = typer.Typer(help="Publish to a Grafana server.", no_args_is_help=True)

_out = output_console()
_err = output_console(stderr=True)

Contracts = Annotated[
    list[Path] | None,
    typer.Argument(help="contract files (default: contracts/*.yaml in the current directory)"),
]


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards_app, name="dashboards")
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(grafana_app, name="grafana")


def load_contracts(files: Sequence[Path] | None) -> list[Contract]:
    paths = list(files or sorted(Path("contracts").glob("*.yaml")))
    if not paths:
        raise ConfigError(
            "no contract files given and none in ./contracts; pass the contract files to build"
        )
    return [load_or_exit(path) for path in paths]


def _timescaledb(choice: str, settings: PulseSettings) -> bool:
    if choice in ("on", "off"):
        return choice == "on"
    if choice != "auto":
        raise typer.BadParameter("--timescaledb takes auto, on or off")
    from outcome_pulse.sinks.queries import schema_uses_timescaledb

    return schema_uses_timescaledb(settings.dsn)


@dashboards_app.command("build")
def build(
    contracts: Contracts = None,
    out: Annotated[Path, typer.Option(help="dashboard JSON goes here")] = Path(
        "dashboards/generated"
    ),
    provisioning: Annotated[Path, typer.Option(help="Grafana provisioning goes here")] = Path(
        "deploy/grafana"
    ),
    timescaledb: Annotated[
        str,
        typer.Option(
            help="the PostgreSQL datasources' timescaledb flag: off, on, or auto (read the "
            "database's schema, PULSE_* settings)"
        ),
    ] = "off",
    evidence_url: Annotated[
        str, typer.Option(help="where the evidence reports are served (client dashboards link)")
    ] = "/public/outcome-pulse/evidence",
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 when the files differ")
    ] = False,
) -> None:
    """Generate the wall screen, service owner, per-client and pipeline dashboards, and the
    Grafana provisioning files, from contract files."""
    from outcome_pulse.dashboards.generate import dashboards, differences, dump, write_tree
    from outcome_pulse.dashboards.provisioning import files as provisioning_files

    loaded = load_contracts(contracts)
    boards = {
        rel: dump(data) for rel, data in dashboards(loaded, evidence_url=evidence_url).items()
    }
    flag = _timescaledb(timescaledb, load_settings())
    provision = provisioning_files(loaded, timescaledb=flag)
    if check:
        problems = [f"{out}: {p}" for p in differences(boards, out)]
        problems += [f"{provisioning}: {p}" for p in differences(provision, provisioning)]
        for problem in problems:
            _err.print(problem, markup=False)
        if problems:
            _err.print("run `pulse dashboards build` to regenerate", markup=False)
            raise typer.Exit(1)
        _out.print(f"{len(boards)} dashboards and {len(provision)} provisioning files up to date")
        return
    write_tree(boards, out)
    write_tree(provision, provisioning)
    _out.print(f"{len(boards)} dashboards in {out}/ for {len(loaded)} contract(s):", markup=False)
    for rel in sorted(boards):
        _out.print(f"  {rel}", markup=False)
    _out.print(
        f"provisioning in {provisioning}/ (timescaledb {'on' if flag else 'off'}):", markup=False
    )
    for rel in sorted(provision):
        _out.print(f"  {rel}", markup=False)


def _hand_over(role: str, password: str | None, password_file: Path | None) -> None:
    if password is None:
        _out.print(
            f"role {role} exists; its password is unchanged (--rotate-password sets a new one)",
            markup=False,
        )
        return
    if password_file is None:
        _out.print(f"role {role} password (shown once, store it now):", markup=False)
        typer.echo(password)
        return
    password_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{password_file} exists; refusing to overwrite a password file (remove it first)"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    _out.print(f"role {role} password written to {password_file} (mode 0600)", markup=False)


PasswordFile = Annotated[
    Path | None,
    typer.Option(help="write the password to this new file (mode 0600) instead of printing it"),
]
Rotate = Annotated[bool, typer.Option(help="give an existing role a new password")]


@tenants_app.command("add")
def tenants_add(
    client: Annotated[str, typer.Argument(help="client id (a contract file's client.id)")],
    password_file: PasswordFile = None,
    rotate_password: Rotate = False,
) -> None:
    """Create CLIENT's database role: it sees only the rows of CLIENT's contracts."""
    from outcome_pulse.processors.tenancy import client_password_env
    from outcome_pulse.sinks.tenants import add_tenant

    made = add_tenant(load_settings().dsn, client, rotate=rotate_password)
    _out.print(
        f"tenant {client}: role {made.role} {'created' if made.created else 'reused'}",
        markup=False,
    )
    _hand_over(made.role, made.password, password_file)
    _out.print(f"Grafana reads it from ${client_password_env(client)}", markup=False)


@tenants_app.command("provider")
def tenants_provider(password_file: PasswordFile = None, rotate_password: Rotate = False) -> None:
    """Create the provider's read-only Grafana role, which sees every client."""
    from outcome_pulse.processors.tenancy import PROVIDER_PASSWORD_ENV
    from outcome_pulse.sinks.tenants import add_provider

    made = add_provider(load_settings().dsn, rotate=rotate_password)
    _out.print(f"provider role {made.role} {'created' if made.created else 'reused'}")
    _hand_over(made.role, made.password, password_file)
    _out.print(f"Grafana reads it from ${PROVIDER_PASSWORD_ENV}", markup=False)


@tenants_app.command("list")
def tenants_list() -> None:
    """Every client with a database role."""
    from outcome_pulse.sinks.tenants import tenants

    for client, role in tenants(load_settings().dsn):
        _out.print(f"{client}\t{role}", markup=False)


@grafana_app.command("publish")
def grafana_publish(
    url: Annotated[
        str, typer.Option(help="Grafana's URL (user:password@ in it, or PULSE_GRAFANA_TOKEN)")
    ],
    contracts: Contracts = None,
    secrets: Annotated[
        Path,
        typer.Option(help="folder of the clients' password files, <role>.password (0600)"),
    ] = Path("secrets"),
    evidence_url: Annotated[str, typer.Option(help="where the evidence reports are served")] = (
        "/public/outcome-pulse/evidence"
    ),
    timescaledb: Annotated[str, typer.Option(help="off, on or auto (read the schema)")] = "off",
) -> None:
    """Create or update, per client, a folder, a team with view permission on it, the client's
    datasource and dashboards; and the provider's dashboards (idempotent)."""
    from grafana_client import GrafanaApi

    from outcome_pulse.dashboards.generate import by_client, dashboards
    from outcome_pulse.processors.tenancy import client_role
    from outcome_pulse.sinks.grafana_publisher import DatabaseTarget, GrafanaPublisher

    settings = load_settings()
    loaded = load_contracts(contracts)
    clients = by_client(loaded)
    passwords = {}
    for client in clients:
        path = secrets / f"{client_role(client)}.password"
        try:
            passwords[client] = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read client {client}'s password ({exc.strerror}); create it with "
                f"`pulse tenants add {client} --password-file {path}`"
            ) from None
    token = settings.grafana_token.get_secret_value() if settings.grafana_token else None
    api = GrafanaApi.from_url(url, credential=token)
    target = DatabaseTarget(
        host=settings.grafana_pg_host or f"127.0.0.1:{settings.pg_port}",
        database=settings.pg_database,
        timescaledb=_timescaledb(timescaledb, settings),
    )
    report = GrafanaPublisher(api).publish(
        clients, dashboards(loaded, evidence_url=evidence_url), passwords, target
    )
    _out.print(
        f"published: created {len(report.created)}, updated {len(report.updated)}",
        markup=False,
    )
    for item in report.created:
        _out.print(f"  created {item}", markup=False)
