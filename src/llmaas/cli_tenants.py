"""``llmaas orgs`` and ``llmaas tiers``: who the customers are and what they bought.

An organization's limit options set its contract overrides (they win over the tier's); a tier's limit
options set the tier's own defaults. ``none`` removes a limit, and what is not given stays as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from llmaas.app import Core
from llmaas.cli_options import (
    BudgetOption,
    GuardrailOption,
    JsonOption,
    LimitOptions,
    LimitValue,
    MaxConcurrentOption,
    ModelList,
    ModelsOption,
    OutputPerDayOption,
    OutputPerHourOption,
    RpmOption,
    TpmOption,
    cli_actor,
    eur_limit_option,
    eur_option,
    guardrail_changes,
)
from llmaas.cli_runtime import console, print_json, run_with_core, usage_error
from llmaas.cli_views import (
    ORGANIZATION_COLUMNS,
    TIER_COLUMNS,
    eur_text,
    fields_table,
    limits_json,
    organization_fields,
    organization_json,
    organization_row,
    table,
    tier_json,
    tier_row,
)
from llmaas.domain.limits import Limits
from llmaas.domain.locations import DataPolicy
from llmaas.domain.tenants import Organization, Tier

orgs_app = typer.Typer(
    help="Organizations: customers, their tier, contract limits and credit.", no_args_is_help=True
)
tiers_app = typer.Typer(help="Tiers: the products organizations buy.", no_args_is_help=True)

OrgId = Annotated[str, typer.Argument(help="The organization's id (lowercase, digits, dashes).")]
TierId = Annotated[str, typer.Argument(help="The tier's id (lowercase, digits, dashes).")]
PurchaseCreditOption = Annotated[
    LimitValue | None,
    eur_limit_option(
        "--purchase-credit-eur",
        "Credit bought up front to join the tier ('none': billed monthly instead).",
    ),
]
DescriptionOption = Annotated[str | None, typer.Option(help="A line about the tier.")]


def _given(**values: Any) -> dict[str, Any]:
    """The options that were given: an update changes those and nothing else."""
    return {name: value for name, value in values.items() if value is not None}


def _models(models: ModelList | None) -> dict[str, Any]:
    return {} if models is None else {"allowed_models": models.models}


# --- organizations ---------------------------------------------------------------------------


@orgs_app.command("create")
def orgs_create(
    organization_id: OrgId,
    name: Annotated[str, typer.Option(help="The customer's name.")],
    tier: Annotated[str, typer.Option(help="The tier it is on (see: llmaas tiers list).")],
    credit: Annotated[
        int | None,
        eur_option(
            "--credit-eur", "Prepaid credit to start with (default: the tier's purchase credit)."
        ),
    ] = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    output_per_hour: OutputPerHourOption = None,
    output_per_day: OutputPerDayOption = None,
    max_concurrent: MaxConcurrentOption = None,
    budget: BudgetOption = None,
    models: ModelsOption = None,
    countries: Annotated[
        list[str] | None,
        typer.Option(
            "--country",
            help="Sovereignty: serve its requests only from deployments in this country "
            "(ISO code, repeatable).",
        ),
    ] = None,
    certifications: Annotated[
        list[str] | None,
        typer.Option(
            "--certification",
            help="Sovereignty: only from deployments holding this certification (repeatable).",
        ),
    ] = None,
    guardrail: GuardrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an organization on a tier, with optional contract overrides."""
    overrides = LimitOptions(
        rpm, tpm, output_per_hour, output_per_day, max_concurrent, budget
    ).applied_to(Limits())

    async def create(core: Core) -> Organization:
        return await core.tenants.create_organization(
            organization_id,
            name,
            tier,
            overrides=overrides,
            allowed_models=models.models if models is not None else None,
            initial_credit_micros=credit,
            data_policy=DataPolicy.of(countries or (), certifications or ()),
            guardrail_policy=guardrail.policy() if guardrail is not None else None,
            by=cli_actor(),
        )

    organization = run_with_core(create)
    if as_json:
        print_json(organization_json(organization))
        return
    console.print(
        Text(
            f"created organization {organization.id} on {organization.tier_id}"
            f" (credit bought: {eur_text(organization.credit_granted_micros)})"
        )
    )


@orgs_app.command("list")
def orgs_list(as_json: JsonOption = False) -> None:
    """List organizations with their tier, overrides and credit."""

    async def list_organizations(core: Core) -> list[Organization]:
        return await core.tenants.organizations()

    organizations = run_with_core(list_organizations)
    if as_json:
        print_json([organization_json(o) for o in organizations])
        return
    console.print(table(*ORGANIZATION_COLUMNS, rows=(organization_row(o) for o in organizations)))


@orgs_app.command("show")
def orgs_show(organization_id: OrgId, as_json: JsonOption = False) -> None:
    """Show one organization, with the limits that apply once its contract overrides the tier."""

    async def get(core: Core) -> tuple[Organization, Tier]:
        organization = await core.tenants.organization(organization_id)
        return organization, await core.tenants.tier(organization.tier_id)

    organization, tier = run_with_core(get)
    if as_json:
        print_json(
            {
                **organization_json(organization),
                "effective_limits": limits_json(organization.effective_limits(tier)),
            }
        )
        return
    console.print(fields_table(organization_fields(organization, tier)))


@orgs_app.command("update")
def orgs_update(
    organization_id: OrgId,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    tier: Annotated[str | None, typer.Option(help="Move it to this tier.")] = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    output_per_hour: OutputPerHourOption = None,
    output_per_day: OutputPerDayOption = None,
    max_concurrent: MaxConcurrentOption = None,
    budget: BudgetOption = None,
    models: ModelsOption = None,
    guardrail: GuardrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change an organization's name, tier, contract overrides, models or guardrail."""
    overrides = LimitOptions(rpm, tpm, output_per_hour, output_per_day, max_concurrent, budget)
    changes = {
        **_given(name=name, tier_id=tier),
        **_models(models),
        **guardrail_changes(guardrail),
    }
    if not changes and not overrides.given:
        raise usage_error("Nothing to change: give at least one option (see --help).")

    async def update(core: Core) -> Organization:
        if overrides.given:
            current = await core.tenants.organization(organization_id)
            changes["overrides"] = overrides.applied_to(current.overrides)
        return await core.tenants.update_organization(organization_id, by=cli_actor(), **changes)

    _print_organization(run_with_core(update), as_json=as_json)


@orgs_app.command("credit")
def orgs_credit(
    organization_id: OrgId,
    amount: Annotated[int, eur_option("--eur", "The amount bought, in EUR.")],
    note: Annotated[str, typer.Option(help="What the purchase was (invoice number, ...).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Record a prepaid credit purchase."""

    async def credit(core: Core) -> Organization:
        return await core.tenants.add_credit(organization_id, amount, note, by=cli_actor())

    organization = run_with_core(credit)
    if as_json:
        print_json(organization_json(organization))
        return
    console.print(
        Text(
            f"added {eur_text(amount)} to {organization.id}: "
            f"{eur_text(organization.credit_granted_micros)} bought in all"
        )
    )


@orgs_app.command("disable")
def orgs_disable(organization_id: OrgId) -> None:
    """Refuse every request from this organization's keys until it is enabled again."""
    _set_disabled(organization_id, disabled=True)


@orgs_app.command("enable")
def orgs_enable(organization_id: OrgId) -> None:
    """Accept this organization's keys again."""
    _set_disabled(organization_id, disabled=False)


def _set_disabled(organization_id: str, *, disabled: bool) -> None:
    async def set_disabled(core: Core) -> Organization:
        return await core.tenants.set_disabled(organization_id, disabled, by=cli_actor())

    organization = run_with_core(set_disabled)
    console.print(Text(f"{'disabled' if disabled else 'enabled'} {organization.id}"))


def _print_organization(organization: Organization, *, as_json: bool) -> None:
    if as_json:
        print_json(organization_json(organization))
        return
    console.print(table(*ORGANIZATION_COLUMNS, rows=[organization_row(organization)]))


# --- tiers -----------------------------------------------------------------------------------


@tiers_app.command("list")
def tiers_list(as_json: JsonOption = False) -> None:
    """List tiers: purchase credit, monthly cap, token windows, rates and models."""

    async def list_tiers(core: Core) -> list[Tier]:
        return await core.tenants.tiers()

    tiers = run_with_core(list_tiers)
    if as_json:
        print_json([tier_json(t) for t in tiers])
        return
    console.print(table(*TIER_COLUMNS, rows=(tier_row(t) for t in tiers)))


@tiers_app.command("create")
def tiers_create(
    tier_id: TierId,
    name: Annotated[str, typer.Option(help="The tier's display name.")],
    description: DescriptionOption = None,
    purchase_credit: PurchaseCreditOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    output_per_hour: OutputPerHourOption = None,
    output_per_day: OutputPerDayOption = None,
    max_concurrent: MaxConcurrentOption = None,
    budget: BudgetOption = None,
    models: ModelsOption = None,
    guardrail: GuardrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tier (a prepaid one when --purchase-credit-eur is given)."""
    tier = Tier(
        tier_id,
        name,
        LimitOptions(rpm, tpm, output_per_hour, output_per_day, max_concurrent, budget).applied_to(
            Limits()
        ),
        purchase_credit_micros=purchase_credit.value if purchase_credit is not None else None,
        allowed_models=models.models if models is not None else None,
        description=description or "",
        guardrail_policy=guardrail.policy() if guardrail is not None else None,
    )

    async def create(core: Core) -> Tier:
        return await core.tenants.create_tier(tier, by=cli_actor())

    _print_tier(run_with_core(create), as_json=as_json)


@tiers_app.command("update")
def tiers_update(
    tier_id: TierId,
    name: Annotated[str | None, typer.Option(help="A new display name.")] = None,
    description: DescriptionOption = None,
    purchase_credit: PurchaseCreditOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    output_per_hour: OutputPerHourOption = None,
    output_per_day: OutputPerDayOption = None,
    max_concurrent: MaxConcurrentOption = None,
    budget: BudgetOption = None,
    models: ModelsOption = None,
    guardrail: GuardrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a tier; every organization on it gets the new limits within seconds."""
    limits = LimitOptions(rpm, tpm, output_per_hour, output_per_day, max_concurrent, budget)
    changes = {
        **_given(name=name, description=description),
        **_models(models),
        **guardrail_changes(guardrail),
    }
    if purchase_credit is not None:
        changes["purchase_credit_micros"] = purchase_credit.value
    if not changes and not limits.given:
        raise usage_error("Nothing to change: give at least one option (see --help).")

    async def update(core: Core) -> Tier:
        if limits.given:
            changes["limits"] = limits.applied_to((await core.tenants.tier(tier_id)).limits)
        return await core.tenants.update_tier(tier_id, by=cli_actor(), **changes)

    _print_tier(run_with_core(update), as_json=as_json)


def _print_tier(tier: Tier, *, as_json: bool) -> None:
    if as_json:
        print_json(tier_json(tier))
        return
    console.print(table(*TIER_COLUMNS, rows=[tier_row(tier)]))
