"""The ``llmaas`` command line: thin wrappers that build the pieces and call the services."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from llmaas.adapters.connection_limits import ConnectionLimits, LimitedHttpToolsProtocol
from llmaas.adapters.draining_server import DrainingServer
from llmaas.adapters.model_config import ConfigError
from llmaas.adapters.sql import schema
from llmaas.adapters.tls import HSTS, ServerTls, TlsError, server_tls
from llmaas.adapters.tls_scope import TlsScopeHttpToolsProtocol
from llmaas.api.client_certificates import AdminClientCertificateGuard
from llmaas.app import (
    Core,
    build_backends,
    create_app,
    load_catalog_for,
    refuse_incapable_engines,
    refuse_invalid_catalog,
)
from llmaas.cli_audit import audit_app
from llmaas.cli_backup import backup_app
from llmaas.cli_catalog import catalog_app
from llmaas.cli_keys import keys_app
from llmaas.cli_options import cli_actor
from llmaas.cli_runtime import (
    console,
    fail,
    prepare_schema,
    print_json,
    run_with_core,
    settings,
)
from llmaas.cli_tenants import orgs_app, tiers_app
from llmaas.cli_usage import usage
from llmaas.domain.audit import Actor
from llmaas.domain.catalog import Catalog
from llmaas.observability.logging import configure_logging
from llmaas.services.catalog_audit import CatalogAudit
from llmaas.settings import Settings

app = typer.Typer(help="llmaas: a sovereign, OpenAI-compatible LLM service.", no_args_is_help=True)
models_app = typer.Typer(help="The models this server serves.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(orgs_app, name="orgs")
app.add_typer(tiers_app, name="tiers")
app.add_typer(models_app, name="models")
app.add_typer(catalog_app, name="catalog")
app.add_typer(audit_app, name="audit")
app.add_typer(backup_app, name="backup")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML file of models and deployments.")
]
CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", help="YAML model catalog (default: the packaged quarterly review)."),
]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
    config: ConfigOption = None,
    catalog: CatalogOption = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate (chain): serve HTTPS, TLS 1.3 only.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="CA of client certificates: optional for /v1, required for /admin."),
    ] = None,
    tls_self_signed: Annotated[
        bool,
        typer.Option(
            "--tls-self-signed", help="Serve HTTPS with a generated localhost certificate (trials)."
        ),
    ] = False,
) -> None:
    """Migrate the database, load the models and serve the API."""
    import uvicorn

    configured = settings(
        host=host,
        port=port,
        models_config=config,
        catalog=catalog,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
        tls_self_signed=tls_self_signed or None,
    )
    configure_logging(configured.log_level, configured.log_format)
    served_tls = _server_tls(configured)
    prepare_schema(configured)
    _ensure_admin_key(configured)
    try:
        served = load_catalog_for(configured)
        refuse_invalid_catalog(served)
        backends = build_backends(configured, served)
        refuse_incapable_engines(served, backends)
    except (ConfigError, RuntimeError) as error:
        raise fail(str(error)) from None
    _prepare_weights(backends)
    _audit_catalog(configured, served)
    gateway = create_app(configured, catalog=served, backends=backends)
    application: Any = gateway
    protocol: type[LimitedHttpToolsProtocol] = LimitedHttpToolsProtocol
    if served_tls is not None and served_tls.client_ca is not None:
        application = AdminClientCertificateGuard(application)
        protocol = TlsScopeHttpToolsProtocol
    # uvicorn calls this with its own arguments for each connection (it types ``http`` as a class,
    # but only ever calls it): the limits ride along.
    http: Any = partial(protocol, limits=_connection_limits(configured))
    scheme = "https" if served_tls is not None else "http"
    console.print(
        f"llmaas listening on [bold]{scheme}://{configured.host}:{configured.port}/v1[/bold]"
    )
    server_config = uvicorn.Config(
        application,
        host=configured.host,
        port=configured.port,
        loop="uvloop",
        http=http,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=math.ceil(configured.drain_seconds),
        # uvicorn's ssl_* options cannot set a minimum version: hand it the context built here.
        ssl_context_factory=(lambda _config, _default: served_tls.context)
        if served_tls is not None
        else None,
        # Server-level headers: on every response, uvicorn's own 400s included, for no ASGI work.
        headers=[("strict-transport-security", HSTS)] if served_tls is not None else None,
    )
    DrainingServer(
        server_config,
        shutdown_delay=configured.shutdown_delay_seconds,
        on_drain=gateway.state.services.readiness.begin_drain,
    ).run()


def _connection_limits(configured: Settings) -> ConnectionLimits:
    return ConnectionLimits(
        max_header_bytes=configured.max_header_bytes,
        header_timeout=configured.header_timeout_seconds,
        body_timeout=configured.body_timeout_seconds,
        body_min_rate=configured.body_min_bytes_per_second,
        send_timeout=configured.send_timeout_seconds,
    )


def _server_tls(configured: Settings) -> ServerTls | None:
    """Checked before anything else starts: a TLS mistake must stop the server, never be served
    around in plain HTTP."""
    try:
        served_tls = server_tls(
            cert=configured.tls_cert,
            key=configured.tls_key,
            client_ca=configured.tls_client_ca,
            self_signed=configured.tls_self_signed,
            directory=configured.tls_dir,
        )
    except TlsError as error:
        raise fail(str(error)) from None
    generated = served_tls.self_signed if served_tls is not None else None
    if generated is not None:
        state = "reused" if generated.reused else "generated"
        console.print(
            f"TLS: self-signed certificate {state}: {escape(str(generated.cert))}\n"
            f"SHA-256 fingerprint: [bold]{generated.fingerprint}[/bold]\n"
            "For trials only: clients must trust this file (e.g. httpx verify=PATH).",
            # As written: no line cut in a fingerprint or path, no ':CD:' turned into an emoji.
            soft_wrap=True,
            emoji=False,
        )
    return served_tls


def _ensure_admin_key(configured: Settings) -> None:
    """A fresh installation must not be locked: the first start prints an admin key, once (unless
    ``first_start_admin_key`` is off: a secret must not land in collected logs)."""
    if not configured.first_start_admin_key:
        return

    async def ensure(core: Core) -> str | None:
        if await core.api_keys.has_any():
            return None
        issued = await core.api_keys.create("admin", is_admin=True)
        return issued.key.reveal()

    key = run_with_core(ensure, configured)
    if key is not None:
        console.print(
            Panel(
                f"[bold]{key}[/bold]\n\nThis admin API key is shown once: store it now.\n"
                "Create more with: llmaas keys create --name NAME",
                title="First start: admin API key",
            )
        )


def _audit_catalog(configured: Settings, served: Catalog) -> None:
    """A catalog edited since the last start (models, prices, lifecycle) goes into the audit trail."""

    async def record(core: Core) -> int:
        changes = CatalogAudit(core.unit_of_work, core.audit)
        return await changes.record_changes(
            served, by=Actor(f"serve:{cli_actor().name.removeprefix('cli:')}", "local")
        )

    changed = run_with_core(record, configured)
    if changed:
        console.print(f"catalog: {changed} model(s) changed since the last start (audit trail)")


def _prepare_weights(backends: dict[str, Any]) -> None:
    """Reassemble or verify weights with a progress bar (slow once, then instant)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        for name, backend in backends.items():
            prepare = getattr(backend, "prepare", None)
            if prepare is None:
                continue
            task = progress.add_task(f"preparing {name}", total=None)

            def report(done: int, total: int, task: Any = task) -> None:
                progress.update(task, completed=done, total=total)

            try:
                prepare(report)
            except RuntimeError as error:
                raise fail(str(error)) from None


@app.command()
def migrate(
    check: Annotated[
        bool,
        typer.Option(
            help="Only check; exit 1 if this code cannot serve on the database as it is "
            "(migrations pending, or a newer version removed what it reads)."
        ),
    ] = False,
) -> None:
    """Bring the database schema up to date."""
    url = settings().effective_database_url
    state = schema.state(url)
    if check:
        # 0 when this code can serve on the database as it is (current, or migrated by a newer
        # version that kept it compatible), 1 otherwise: an init container's gate.
        if not state.servable:
            raise fail(state.describe())
        console.print(state.describe(), soft_wrap=True)
        return
    if state.match is schema.SchemaMatch.AHEAD_INCOMPATIBLE:
        raise fail(state.describe())
    if state.match is not schema.SchemaMatch.BEHIND:
        console.print(state.describe(), soft_wrap=True)
        return
    schema.upgrade(url)
    console.print(f"database schema is at {schema.head_revision()}")


@models_app.command("list")
def models_list(
    config: ConfigOption = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the configured models and their deployments."""
    try:
        models = load_catalog_for(settings(models_config=config, catalog=catalog)).deployed()
    except ConfigError as error:
        raise fail(str(error)) from None
    if as_json:
        rows = [
            {
                "id": m.id,
                "capabilities": sorted(m.capabilities),
                "context_length": m.context_length,
                "deployments": [{"name": d.name, "engine": d.engine} for d in m.deployments],
            }
            for m in models
        ]
        print_json(rows)
        return
    table = Table("model", "capabilities", "context", "deployments")
    for m in models:
        table.add_row(
            m.id,
            ", ".join(sorted(m.capabilities)),
            f"{m.context_length:,}",
            ", ".join(f"{d.name} ({d.engine})" for d in m.deployments),
        )
    console.print(table)


@models_app.command("prepare")
def models_prepare(config: ConfigOption = None, catalog: CatalogOption = None) -> None:
    """Reassemble and verify the embedded models' weights now, instead of at first start."""
    configured = settings(models_config=config, catalog=catalog)
    try:
        backends = build_backends(configured, load_catalog_for(configured))
    except (ConfigError, RuntimeError) as error:
        raise fail(str(error)) from None
    _prepare_weights(backends)
    console.print("weights ready")


app.command("usage")(usage)


def main() -> None:
    app()
