"""``llmaas keys``: create with limits, list, show, update, rotate and revoke, as a script sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llmaas.domain.api_keys import parse_key
from tests.integration.cli.conftest import Cli


def test_create_json_keeps_id_and_key_and_adds_the_organization(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app")

    assert set(created) == {"id", "key", "organization"}
    assert created["organization"] == "default"
    parsed = parse_key(created["key"])
    assert parsed is not None
    assert parsed.key_id == created["id"]


def test_create_stores_every_limit_with_the_budget_in_micros(cli: Cli) -> None:
    created = cli.json(
        "keys", "create", "--name", "limited",
        "--rpm", "60", "--tpm", "10_000", "--output-per-hour", "1,000",
        "--output-per-day", "20000", "--max-concurrent", "4", "--budget-eur", "12.50",
        "--models", "small, large", "--expires", "2999-01-31",
    )  # fmt: skip

    shown = cli.json("keys", "show", created["id"])

    assert shown["limits"] == {
        "requests_per_minute": 60,
        "tokens_per_minute": 10_000,
        "output_tokens_per_hour": 1_000,
        "output_tokens_per_day": 20_000,
        "max_concurrent_requests": 4,
        "monthly_budget_micros": 12_500_000,
    }
    assert shown["models"] == ["large", "small"]
    assert shown["expires_at"] == "2999-01-31T00:00:00+00:00"
    assert shown["organization"] == "default"
    assert created["key"] not in cli.ok("keys", "show", created["id"], "--json").stdout


def test_create_expiry_as_a_duration_counts_from_now(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "short", "--expires", "30d")

    expires = datetime.fromisoformat(cli.json("keys", "show", created["id"])["expires_at"])

    expected = datetime.now(UTC) + timedelta(days=30)
    assert abs(expires - expected) < timedelta(minutes=5)


def test_create_without_json_shows_the_secret_once_in_a_panel(cli: Cli) -> None:
    printed = cli.ok("keys", "create", "--name", "person").stdout

    assert "sk-llmaas-" in printed
    assert "not shown again" in printed
    listed = cli.ok("keys", "list").stdout
    shown_key = next(line for line in printed.splitlines() if "sk-llmaas-" in line)
    secret = shown_key.split("key:")[1].strip(" │")
    assert secret not in listed


def test_create_for_an_organization(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")

    created = cli.json("keys", "create", "--name", "app", "--org", "acme")

    assert created["organization"] == "acme"


def test_create_for_an_unknown_organization_fails_cleanly(cli: Cli) -> None:
    result = cli("keys", "create", "--name", "app", "--org", "nope")

    assert result.exit_code == 1
    assert "No organization with id 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_a_malformed_budget_is_a_usage_error(cli: Cli) -> None:
    result = cli("keys", "create", "--name", "app", "--budget-eur", "abc")

    assert result.exit_code == 2
    assert "--budget-eur" in result.output
    assert "not an amount in EUR" in result.output
    assert "Traceback" not in result.output
    assert cli.json("keys", "list") == []


def test_sub_micro_budgets_and_bad_counts_and_expiries_are_usage_errors(cli: Cli) -> None:
    assert cli("keys", "create", "--name", "a", "--budget-eur", "0.0000001").exit_code == 2
    assert cli("keys", "create", "--name", "a", "--rpm", "-1").exit_code == 2
    assert cli("keys", "create", "--name", "a", "--expires", "soon").exit_code == 2
    assert cli("keys", "create", "--name", "a", "--models", " , ").exit_code == 2


def test_an_expiry_in_the_past_is_refused_by_the_service(cli: Cli) -> None:
    result = cli("keys", "create", "--name", "a", "--expires", "2001-01-01")

    assert result.exit_code == 1
    assert "future" in result.stderr


def test_list_filters_by_organization_and_hides_revoked_keys(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "monthly-billing")
    mine = cli.json("keys", "create", "--name", "mine", "--org", "acme", "--rpm", "5")
    other = cli.json("keys", "create", "--name", "other")
    gone = cli.json("keys", "create", "--name", "gone", "--org", "acme")
    cli.ok("keys", "revoke", gone["id"])

    acme = cli.json("keys", "list", "--org", "acme")
    everything = cli.json("keys", "list", "--all")

    assert [k["id"] for k in acme] == [mine["id"]]
    assert acme[0]["limits"]["requests_per_minute"] == 5
    assert {k["id"] for k in everything} == {mine["id"], other["id"], gone["id"]}
    revoked = next(k for k in everything if k["id"] == gone["id"])
    assert revoked["revoked_at"] is not None
    # The fields scripts (and the e2e suite) already read are still there.
    assert {"id", "name", "prefix", "admin", "models", "created_at", "revoked_at"} <= set(acme[0])


def test_list_table_shows_the_organization_and_limits(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme", "--name", "Acme", "--tier", "tier-1")
    cli.ok("keys", "create", "--name", "app", "--org", "acme", "--rpm", "60")

    table = cli.ok("keys", "list").stdout

    assert "acme" in table
    assert "rpm 60" in table


def test_show_prints_the_fields_for_people(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app", "--budget-eur", "7")

    shown = cli.ok("keys", "show", created["id"]).stdout

    assert created["id"] in shown
    assert "€7.00/month" in shown
    assert created["key"] not in shown


def test_show_an_unknown_key_fails_cleanly(cli: Cli) -> None:
    result = cli("keys", "show", "nosuchkey")

    assert result.exit_code == 1
    assert "No API key with id 'nosuchkey'" in result.stderr


def test_update_changes_only_what_is_given_and_none_clears_a_limit(cli: Cli) -> None:
    created = cli.json(
        "keys", "create", "--name", "app", "--rpm", "60", "--tpm", "100", "--budget-eur", "5",
        "--models", "a", "--expires", "2999-01-01",
    )  # fmt: skip

    updated = cli.json(
        "keys", "update", created["id"], "--name", "renamed", "--rpm", "none",
        "--budget-eur", "9.99", "--models", "all", "--expires", "none",
    )  # fmt: skip

    assert updated == cli.json("keys", "show", created["id"])
    assert updated["name"] == "renamed"
    assert updated["limits"]["requests_per_minute"] is None
    assert updated["limits"]["tokens_per_minute"] == 100
    assert updated["limits"]["monthly_budget_micros"] == 9_990_000
    assert updated["models"] is None
    assert updated["expires_at"] is None


def test_update_without_options_is_a_usage_error(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app")

    result = cli("keys", "update", created["id"])

    assert result.exit_code == 2
    assert "Nothing to change" in result.stderr


def test_update_a_revoked_key_fails_cleanly(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app")
    cli.ok("keys", "revoke", created["id"])

    result = cli("keys", "update", created["id"], "--rpm", "5")

    assert result.exit_code == 1
    assert "revoked" in result.stderr


def test_rotate_prints_a_different_secret_under_the_same_id(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app", "--rpm", "7")

    rotated = cli.json("keys", "rotate", created["id"], "--grace", "3600s")

    assert rotated["id"] == created["id"]
    assert rotated["key"] != created["key"]
    assert rotated["organization"] == "default"
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert abs(until - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=5)
    assert cli.json("keys", "show", created["id"])["limits"]["requests_per_minute"] == 7


def test_rotate_without_grace_and_for_people(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app")

    immediate = cli.json("keys", "rotate", created["id"], "--grace", "0")
    printed = cli.ok("keys", "rotate", created["id"]).stdout

    assert immediate["previous_valid_until"] is None
    assert "sk-llmaas-" in printed
    assert immediate["key"] not in printed
    assert "old secret works until" in printed


def test_rotate_refuses_a_grace_beyond_thirty_days_and_a_malformed_one(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app")

    too_long = cli("keys", "rotate", created["id"], "--grace", "31d")
    malformed = cli("keys", "rotate", created["id"], "--grace", "tomorrow")

    assert too_long.exit_code == 1
    assert "30 days" in too_long.stderr
    assert malformed.exit_code == 2


def test_revoke_twice_fails_the_second_time(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "app")

    assert f"revoked {created['id']}" in cli.ok("keys", "revoke", created["id"]).stdout
    again = cli("keys", "revoke", created["id"])

    assert again.exit_code == 1
    assert "No active API key" in again.stderr


def test_an_admin_key(cli: Cli) -> None:
    created = cli.json("keys", "create", "--name", "ops", "--admin")

    assert cli.json("keys", "show", created["id"])["admin"] is True
