"""The ``llmaas`` command line: thin wrappers that build the pieces and call the services."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from llmaas.adapters.model_config import ConfigError, load_models
from llmaas.adapters.sql import schema
from llmaas.app import build_backends, build_core, create_app
from llmaas.domain.errors import LlmaasError
from llmaas.observability.logging import configure_logging
from llmaas.services.api_keys import ApiKeyService
from llmaas.settings import Settings

T = TypeVar("T")

app = typer.Typer(help="llmaas: a sovereign, OpenAI-compatible LLM service.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
models_app = typer.Typer(help="The models this server serves.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")

console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML file of models and deployments.")
]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _run_with_service(settings: Settings, action: Callable[[ApiKeyService], Awaitable[T]]) -> T:
    async def main() -> T:
        core = build_core(settings)
        try:
            return await action(ApiKeyService(core.unit_of_work, core.hasher, core.clock))
        finally:
            await core.engine.dispose()

    return asyncio.run(main())


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
    config: ConfigOption = None,
) -> None:
    """Migrate the database, load the models and serve the API."""
    import uvicorn

    settings = _settings(host=host, port=port, models_config=config)
    configure_logging(settings.log_level, settings.log_format)
    schema.upgrade(settings.effective_database_url)
    _ensure_admin_key(settings)
    try:
        models = load_models(settings.models_config)
        backends = build_backends(settings, models)
    except (ConfigError, RuntimeError) as error:
        raise _fail(str(error)) from None
    _prepare_weights(backends)
    application = create_app(settings, models=models, backends=backends)
    console.print(f"llmaas listening on [bold]http://{settings.host}:{settings.port}/v1[/bold]")
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def _ensure_admin_key(settings: Settings) -> None:
    async def ensure(service: ApiKeyService) -> str | None:
        if await service.has_any():
            return None
        issued = await service.create("admin", is_admin=True)
        return issued.key.reveal()

    key = _run_with_service(settings, ensure)
    if key is not None:
        console.print(
            Panel(
                f"[bold]{key}[/bold]\n\nThis admin API key is shown once: store it now.\n"
                "Create more with: llmaas keys create --name NAME",
                title="First start: admin API key",
            )
        )


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
                raise _fail(str(error)) from None


@app.command()
def migrate(
    check: Annotated[
        bool, typer.Option(help="Only check; exit 1 if migrations are pending.")
    ] = False,
) -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    url = settings.effective_database_url
    if check:
        current = asyncio.run(schema.current_revision(url))
        head = schema.head_revision()
        if current != head:
            raise _fail(f"database at revision {current}, code expects {head}")
        console.print(f"database schema is current ({head})")
        return
    schema.upgrade(url)
    console.print(f"database schema is at {schema.head_revision()}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Allow only this model (repeatable).")
    ] = None,
    admin: Annotated[bool, typer.Option(help="An administrator key.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, key} as JSON.")] = False,
) -> None:
    """Create an API key; its secret is printed once."""
    settings = _settings()
    schema.upgrade(settings.effective_database_url)
    try:
        issued = _run_with_service(
            settings, lambda s: s.create(name, is_admin=admin, allowed_models=model)
        )
    except LlmaasError as error:
        raise _fail(error.message) from None
    if as_json:
        sys.stdout.write(json.dumps({"id": issued.record.id, "key": issued.key.reveal()}) + "\n")
        return
    console.print(f"id:  {issued.record.id}\nkey: [bold]{issued.key.reveal()}[/bold]")
    console.print("Store the key now: it is not shown again.")


@keys_app.command("list")
def keys_list(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List API keys (never their secrets)."""
    settings = _settings()
    schema.upgrade(settings.effective_database_url)
    records = _run_with_service(settings, lambda s: s.list(include_revoked=include_revoked))
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "prefix": r.display_prefix,
            "admin": r.is_admin,
            "models": sorted(r.allowed_models) if r.allowed_models is not None else None,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in records
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("id", "name", "key", "admin", "models", "created", "revoked")
    for row in rows:
        models = row["models"]
        table.add_row(
            str(row["id"]),
            str(row["name"]),
            str(row["prefix"]),
            "yes" if row["admin"] else "",
            ", ".join(models) if isinstance(models, list) else "all",
            str(row["created_at"])[:19],
            str(row["revoked_at"] or "")[:19],
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key (running servers stop accepting it within seconds)."""
    settings = _settings()
    schema.upgrade(settings.effective_database_url)
    try:
        _run_with_service(settings, lambda s: s.revoke(key_id))
    except LlmaasError as error:
        raise _fail(error.message) from None
    console.print(f"revoked {key_id}")


@models_app.command("list")
def models_list(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the configured models and their deployments."""
    try:
        models = load_models(_settings(models_config=config).models_config)
    except ConfigError as error:
        raise _fail(str(error)) from None
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
        sys.stdout.write(json.dumps(rows) + "\n")
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
def models_prepare(config: ConfigOption = None) -> None:
    """Reassemble and verify the embedded models' weights now, instead of at first start."""
    settings = _settings(models_config=config)
    try:
        backends = build_backends(settings, load_models(settings.models_config))
    except (ConfigError, RuntimeError) as error:
        raise _fail(str(error)) from None
    _prepare_weights(backends)
    console.print("weights ready")


def main() -> None:
    app()
