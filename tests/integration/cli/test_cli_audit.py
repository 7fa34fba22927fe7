"""``llmaas audit``: every administrative command leaves a record naming who did what; ``verify``
passes on an untouched trail and fails, naming the record, once someone edits or deletes one."""

from __future__ import annotations

import getpass
import json
import sqlite3

from tests.integration.cli.conftest import Cli


def administer(cli: Cli) -> dict[str, str]:
    key = cli.json("keys", "create", "--name", "billing app", "--rpm", "60")
    cli.ok("keys", "update", key["id"], "--name", "billing app v2")
    cli.ok("keys", "revoke", key["id"])
    cli.ok("tiers", "create", "gold", "--name", "Gold")
    cli.ok("tiers", "update", "gold", "--tpm", "99")
    cli.ok("orgs", "create", "acme", "--name", "ACME", "--tier", "gold")
    cli.ok("orgs", "credit", "acme", "--eur", "50")
    cli.ok("orgs", "disable", "acme")
    return {"id": str(key["id"]), "key": str(key["key"])}


def test_each_command_is_recorded_with_who_and_what(cli: Cli) -> None:
    key = administer(cli)
    key_id = key["id"]
    records = cli.json("audit", "list")
    assert [(r["action"], r["target"]) for r in records] == [
        ("key.created", f"key:{key_id}"),
        ("key.updated", f"key:{key_id}"),
        ("key.revoked", f"key:{key_id}"),
        ("tier.created", "tier:gold"),
        ("tier.updated", "tier:gold"),
        ("organization.created", "organization:acme"),
        ("organization.credit_added", "organization:acme"),
        ("organization.updated", "organization:acme"),
    ]
    assert {r["actor"] for r in records} == {f"cli:{getpass.getuser()}"}
    assert {r["source"] for r in records} == {"local"}
    created, updated = records[0], records[1]
    assert created["after"]["name"] == "billing app"
    assert created["after"]["limits"] == {"requests_per_minute": 60}
    # An update shows only what changed, on both sides.
    assert (updated["before"], updated["after"]) == (
        {"name": "billing app"},
        {"name": "billing app v2"},
    )
    assert records[4]["after"]["limits"]["tokens_per_minute"] == 99
    assert "disabled_at" in records[7]["after"]
    # No record holds a secret: not the key, not its stored hash.
    text = json.dumps(records)
    database = sqlite3.connect(cli.data_dir / "llmaas.db")
    try:
        (key_hash,) = database.execute(
            "SELECT key_hash FROM api_keys WHERE id = ?", (key_id,)
        ).fetchone()
    finally:
        database.close()
    assert key["key"] not in text and key["key"].split("-")[-1] not in text
    assert key_hash not in text


def test_verify_passes_then_finds_a_modified_and_a_deleted_record(cli: Cli) -> None:
    administer(cli)
    assert "audit trail intact: 8 records" in cli.ok("audit", "verify").stdout
    exported = [json.loads(line) for line in cli.ok("audit", "export").stdout.splitlines()]
    assert [r["sequence"] for r in exported] == list(range(1, 9))

    database = sqlite3.connect(cli.data_dir / "llmaas.db")
    try:
        # The triggers refuse; someone with file access drops them first.
        database.execute("DROP TRIGGER audit_events_no_update")
        database.execute("DROP TRIGGER audit_events_no_delete")
        database.execute(
            "UPDATE audit_events SET after = json_set(after, '$.limits.tokens_per_minute', 9999) "
            "WHERE sequence = 5"
        )
        database.commit()
    finally:
        database.close()
    modified = cli("audit", "verify", "--json")
    assert modified.exit_code == 1
    report = json.loads(modified.stdout)
    assert report["intact"] is False
    assert report["breaks"] == ["record 5: its content was modified"]

    database = sqlite3.connect(cli.data_dir / "llmaas.db")
    try:
        database.execute("DELETE FROM audit_events WHERE sequence = 3")
        database.commit()
    finally:
        database.close()
    deleted = cli("audit", "verify")
    assert deleted.exit_code == 1
    assert "record 4: expected record 3 here" in deleted.output
    assert "break(s) in 7 records" in deleted.output
