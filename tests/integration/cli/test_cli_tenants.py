"""``llmaas orgs`` and ``llmaas tiers``: customers, their contracts and credit, and the products."""

from __future__ import annotations

from tests.integration.cli.conftest import Cli


def test_tiers_list_shows_the_seeded_tiers(cli: Cli) -> None:
    tiers = {t["id"]: t for t in cli.json("tiers", "list")}
    table = cli.ok("tiers", "list").stdout

    assert {"tier-1", "tier-2", "tier-3", "tier-4", "monthly-billing"} <= set(tiers)
    assert tiers["tier-1"]["purchase_credit_micros"] == 200_000_000
    assert tiers["tier-1"]["purchase_credit_eur"] == "200.00"
    assert tiers["tier-1"]["limits"]["monthly_budget_micros"] == 1_000_000_000
    assert tiers["tier-1"]["limits"]["output_tokens_per_hour"] == 150_000
    assert tiers["monthly-billing"]["prepaid"] is False
    assert "tier-1" in table
    assert "purchase" in table


def test_tiers_create_and_update(cli: Cli) -> None:
    created = cli.json(
        "tiers", "create", "gold", "--name", "Gold", "--description", "For big customers",
        "--purchase-credit-eur", "50", "--budget-eur", "500", "--rpm", "10",
        "--output-per-hour", "1000", "--models", "a,b",
    )  # fmt: skip

    updated = cli.json(
        "tiers", "update", "gold", "--purchase-credit-eur", "none", "--rpm", "none", "--tpm", "99"
    )

    assert created["purchase_credit_micros"] == 50_000_000
    assert created["limits"]["monthly_budget_micros"] == 500_000_000
    assert created["models"] == ["a", "b"]
    assert created["description"] == "For big customers"
    assert updated["purchase_credit_micros"] is None
    assert updated["prepaid"] is False
    assert updated["limits"]["requests_per_minute"] is None
    assert updated["limits"]["tokens_per_minute"] == 99
    assert updated["limits"]["output_tokens_per_hour"] == 1000
    assert updated["limits"]["monthly_budget_micros"] == 500_000_000
    assert "gold" in {t["id"] for t in cli.json("tiers", "list")}


def test_tiers_create_for_people_and_errors(cli: Cli) -> None:
    assert "silver" in cli.ok("tiers", "create", "silver", "--name", "Silver").stdout

    duplicate = cli("tiers", "create", "silver", "--name", "Again")
    bad_id = cli("tiers", "create", "Not An Id", "--name", "X")
    unknown = cli("tiers", "update", "nope", "--rpm", "1")
    nothing = cli("tiers", "update", "silver")

    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr
    assert bad_id.exit_code == 1
    assert unknown.exit_code == 1
    assert "No tier with id 'nope'" in unknown.stderr
    assert nothing.exit_code == 2


def test_orgs_create_on_a_prepaid_tier_starts_with_its_purchase_credit(cli: Cli) -> None:
    created = cli.json(
        "orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1", "--rpm", "100",
        "--budget-eur", "250.50", "--models", "small",
    )  # fmt: skip

    assert created["id"] == "acme"
    assert created["tier"] == "tier-1"
    assert created["credit_granted_micros"] == 200_000_000
    assert created["overrides"]["requests_per_minute"] == 100
    assert created["overrides"]["monthly_budget_micros"] == 250_500_000
    assert created["models"] == ["small"]


def test_orgs_create_with_an_explicit_credit(cli: Cli) -> None:
    created = cli.json(
        "orgs", "create", "beta", "--name", "Beta", "--tier", "tier-2", "--credit-eur", "12.34"
    )

    assert created["credit_granted_micros"] == 12_340_000


def test_orgs_create_errors(cli: Cli) -> None:
    unknown_tier = cli("orgs", "create", "acme", "--name", "Acme", "--tier", "platinum")
    bad_credit = cli("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1",
                     "--credit-eur", "-5")  # fmt: skip
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")
    duplicate = cli("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")

    assert unknown_tier.exit_code == 1
    assert "No tier with id 'platinum'" in unknown_tier.stderr
    assert bad_credit.exit_code == 2
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr


def test_orgs_list_and_show(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme [bold]Corp", "--tier", "tier-1",
           "--rpm", "100")  # fmt: skip

    listed = {o["id"]: o for o in cli.json("orgs", "list")}
    shown = cli.json("orgs", "show", "acme")
    table = cli.ok("orgs", "list").stdout
    details = cli.ok("orgs", "show", "acme").stdout

    assert set(listed) == {"acme", "default"}
    assert shown["name"] == "Acme [bold]Corp"
    assert shown["effective_limits"]["requests_per_minute"] == 100
    assert shown["effective_limits"]["output_tokens_per_hour"] == 150_000
    assert "acme" in table
    assert "[bold]" in details  # names are printed as text, never read as markup
    assert "rpm 100" in details


def test_orgs_show_an_unknown_organization_fails_cleanly(cli: Cli) -> None:
    result = cli("orgs", "show", "nope")

    assert result.exit_code == 1
    assert "No organization with id 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_orgs_update_merges_overrides_and_moves_tier(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1", "--rpm", "100",
           "--tpm", "5000", "--models", "a")  # fmt: skip

    updated = cli.json(
        "orgs", "update", "acme", "--name", "Acme Inc", "--tier", "tier-2", "--rpm", "none",
        "--budget-eur", "99", "--models", "all",
    )  # fmt: skip

    assert updated["name"] == "Acme Inc"
    assert updated["tier"] == "tier-2"
    assert updated["overrides"]["requests_per_minute"] is None
    assert updated["overrides"]["tokens_per_minute"] == 5000
    assert updated["overrides"]["monthly_budget_micros"] == 99_000_000
    assert updated["models"] is None
    assert "acme" in cli.ok("orgs", "update", "acme", "--max-concurrent", "3").stdout


def test_orgs_update_errors(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")

    assert cli("orgs", "update", "acme").exit_code == 2
    unknown_tier = cli("orgs", "update", "acme", "--tier", "nope")
    unknown_org = cli("orgs", "update", "nope", "--rpm", "1")

    assert unknown_tier.exit_code == 1
    assert "No tier" in unknown_tier.stderr
    assert unknown_org.exit_code == 1
    assert "No organization" in unknown_org.stderr


def test_orgs_credit_adds_to_what_was_bought(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")

    printed = cli.ok("orgs", "credit", "acme", "--eur", "100", "--note", "invoice 7").stdout
    credited = cli.json("orgs", "credit", "acme", "--eur", "0.5")

    assert "€100.00" in printed
    assert "€300.00" in printed
    assert credited["credit_granted_micros"] == 300_500_000
    assert credited["credit_granted_eur"] == "300.50"


def test_orgs_credit_errors(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")

    bad = cli("orgs", "credit", "acme", "--eur", "lots")
    zero = cli("orgs", "credit", "acme", "--eur", "0")
    unknown = cli("orgs", "credit", "nope", "--eur", "1")

    assert bad.exit_code == 2
    assert zero.exit_code == 1
    assert "positive" in zero.stderr
    assert unknown.exit_code == 1
    assert "No organization with id 'nope'" in unknown.stderr


def test_orgs_disable_and_enable(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")

    assert "disabled acme" in cli.ok("orgs", "disable", "acme").stdout
    disabled = cli.json("orgs", "show", "acme")
    assert "disabled" in cli.ok("orgs", "list").stdout
    assert "enabled acme" in cli.ok("orgs", "enable", "acme").stdout
    enabled = cli.json("orgs", "show", "acme")

    assert disabled["disabled_at"] is not None
    assert enabled["disabled_at"] is None
    assert cli("orgs", "disable", "nope").exit_code == 1
