"""``llmaas keys``: create, list, show, change, rotate and revoke API keys.

A secret is printed exactly once, when it is created or rotated; every other view shows the key's
public prefix only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.text import Text

from llmaas.app import Core
from llmaas.cli_options import (
    BudgetOption,
    ExpiresOption,
    Expiry,
    GraceOption,
    GuardrailOption,
    JsonOption,
    LimitOptions,
    MaxConcurrentOption,
    ModelList,
    ModelsOption,
    OutputPerDayOption,
    OutputPerHourOption,
    RpmOption,
    TpmOption,
    cli_actor,
    guardrail_changes,
)
from llmaas.cli_runtime import console, print_json, run_with_core, usage_error
from llmaas.cli_views import KEY_COLUMNS, fields_table, key_fields, key_json, key_row, table
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.limits import Limits
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID
from llmaas.services.api_keys import IssuedKey

keys_app = typer.Typer(
    help="Create, list, change, rotate and revoke API keys.", no_args_is_help=True
)

DEFAULT_GRACE = timedelta(days=1)
"""Long enough to redeploy a client; a rotation after a leak passes ``--grace 0``."""

KeyId = Annotated[str, typer.Argument(help="The key's id.")]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    org: Annotated[
        str, typer.Option("--org", help="The organization that owns the key.")
    ] = DEFAULT_ORGANIZATION_ID,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    output_per_hour: OutputPerHourOption = None,
    output_per_day: OutputPerDayOption = None,
    max_concurrent: MaxConcurrentOption = None,
    budget: BudgetOption = None,
    models: ModelsOption = None,
    expires: ExpiresOption = None,
    admin: Annotated[bool, typer.Option(help="An administrator key.")] = False,
    guardrail: GuardrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key with its own limits; its secret is printed once."""
    limits = LimitOptions(
        rpm, tpm, output_per_hour, output_per_day, max_concurrent, budget
    ).applied_to(Limits())

    async def create(core: Core) -> IssuedKey:
        return await core.api_keys.create(
            name,
            organization_id=org,
            is_admin=admin,
            allowed_models=models.models if models is not None else None,
            expires_at=expires.resolve(core.clock.now()) if expires is not None else None,
            limits=limits,
            guardrail_policy=guardrail.policy() if guardrail is not None else None,
            by=cli_actor(),
        )

    issued = run_with_core(create)
    if as_json:
        print_json(_issued_json(issued))
        return
    show_secret(issued, "New API key")


@keys_app.command("list")
def keys_list(
    org: Annotated[str | None, typer.Option("--org", help="Only this organization's keys.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List API keys (never their secrets)."""

    async def list_keys(core: Core) -> list[ApiKeyRecord]:
        return await core.api_keys.list(include_revoked=include_revoked, organization_id=org)

    records = run_with_core(list_keys)
    if as_json:
        print_json([key_json(r) for r in records])
        return
    console.print(table(*KEY_COLUMNS, rows=(key_row(r) for r in records)))


@keys_app.command("show")
def keys_show(key_id: KeyId, as_json: JsonOption = False) -> None:
    """Show one key: owner, models, limits, expiry (never its secret)."""

    async def get(core: Core) -> ApiKeyRecord:
        return await core.api_keys.get(key_id)

    _print_key(run_with_core(get), as_json=as_json)


@keys_app.command("update")
def keys_update(
    key_id: KeyId,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    output_per_hour: OutputPerHourOption = None,
    output_per_day: OutputPerDayOption = None,
    max_concurrent: MaxConcurrentOption = None,
    budget: BudgetOption = None,
    models: ModelsOption = None,
    expires: ExpiresOption = None,
    guardrail: GuardrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a key's name, models, limits, expiry or guardrail; what is not given stays as it is."""
    limits = LimitOptions(rpm, tpm, output_per_hour, output_per_day, max_concurrent, budget)
    nothing = name is None and models is None and expires is None and guardrail is None
    if nothing and not limits.given:
        raise usage_error("Nothing to change: give at least one option (see --help).")

    async def update(core: Core) -> ApiKeyRecord:
        changes = {**_key_changes(name, models, expires, core), **guardrail_changes(guardrail)}
        if limits.given:
            changes["limits"] = limits.applied_to((await core.api_keys.get(key_id)).limits)
        return await core.api_keys.update(key_id, by=cli_actor(), **changes)

    _print_key(run_with_core(update), as_json=as_json)


@keys_app.command("rotate")
def keys_rotate(
    key_id: KeyId,
    grace: GraceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give a key a new secret; the old one keeps working for the grace period (default 1d)."""

    async def rotate(core: Core) -> IssuedKey:
        return await core.api_keys.rotate(
            key_id, grace=DEFAULT_GRACE if grace is None else grace, by=cli_actor()
        )

    issued = run_with_core(rotate)
    if as_json:
        until = issued.record.previous_valid_until
        print_json(
            {**_issued_json(issued), "previous_valid_until": until.isoformat() if until else None}
        )
        return
    show_secret(issued, "Rotated API key")
    until = issued.record.previous_valid_until
    console.print(
        f"The old secret works until {until:%Y-%m-%d %H:%M} UTC."
        if until
        else "The old secret no longer works."
    )


@keys_app.command("revoke")
def keys_revoke(key_id: KeyId) -> None:
    """Revoke an API key (running servers stop accepting it within seconds)."""

    async def revoke(core: Core) -> None:
        await core.api_keys.revoke(key_id, by=cli_actor())

    run_with_core(revoke)
    console.print(Text(f"revoked {key_id}"))


def show_secret(issued: IssuedKey, title: str) -> None:
    """The only place a secret reaches a person's screen."""
    console.print(
        Panel(
            Text.assemble(
                f"id:  {issued.record.id}\norg: {issued.record.organization_id}\nkey: ",
                (issued.key.reveal(), "bold"),
                "\n\nStore the key now: it is not shown again.",
            ),
            title=title,
        )
    )


def _issued_json(issued: IssuedKey) -> dict[str, object]:
    return {
        "id": issued.record.id,
        "key": issued.key.reveal(),
        "organization": issued.record.organization_id,
    }


def _key_changes(
    name: str | None, models: ModelList | None, expires: Expiry | None, core: Core
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if models is not None:
        changes["allowed_models"] = models.models
    if expires is not None:
        changes["expires_at"] = expires.resolve(core.clock.now())
    return changes


def _print_key(record: ApiKeyRecord, *, as_json: bool) -> None:
    if as_json:
        print_json(key_json(record))
        return
    console.print(fields_table(key_fields(record)))
