from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.api_keys import KEY_PREFIX, KeyHasher, checksum, generate_key, parse_key
from llmaas.domain.secrets import Secret


def test_generated_keys_parse_back_to_their_id() -> None:
    key_id, key = generate_key()
    parsed = parse_key(key.reveal())
    assert parsed is not None
    assert parsed.key_id == key_id
    assert key.reveal().startswith(KEY_PREFIX)


def test_a_key_carries_a_checksum_that_catches_any_changed_character() -> None:
    _, key = generate_key()
    text = key.reveal()
    assert text == f"{text[:-6]}{checksum(text[:-6])}" and len(text) == 10 + 12 + 1 + 40 + 6
    for position in range(len(KEY_PREFIX) + 13, len(text)):
        changed = "b" if text[position] == "a" else "a"
        forged = text[:position] + changed + text[position + 1 :]
        assert parse_key(forged) is None, position


def test_keys_issued_before_checksums_still_parse() -> None:
    legacy = "sk-llmaas-abcdefghijkl-" + "Z" * 40
    parsed = parse_key(legacy)
    assert parsed is not None and parsed.key_id == "abcdefghijkl"


def test_keys_are_unique() -> None:
    assert len({generate_key()[1].reveal() for _ in range(200)}) == 200


@given(st.text(max_size=80))
def test_arbitrary_text_never_parses_unless_well_formed(text: str) -> None:
    parsed = parse_key(text)
    if parsed is not None:
        rest = text[len(KEY_PREFIX) :]
        assert text.startswith(KEY_PREFIX)
        assert rest[12] == "-"
        assert rest[:12] == parsed.key_id


@given(st.sampled_from(["", "sk-llmaas-", "sk-llmaas-short-secret", "Bearer x", "sk-other-abc"]))
def test_malformed_keys_are_rejected(text: str) -> None:
    assert parse_key(text) is None


def test_a_key_with_the_wrong_secret_does_not_match() -> None:
    hasher = KeyHasher(Secret("s" * 40))
    _, key = generate_key()
    _, other = generate_key()
    stored = hasher.hash(key)
    assert hasher.matches(key, stored)
    assert not hasher.matches(other, stored)


def test_hashes_depend_on_the_server_secret() -> None:
    _, key = generate_key()
    assert KeyHasher(Secret("a" * 40)).hash(key) != KeyHasher(Secret("b" * 40)).hash(key)


def test_secrets_never_render_their_value() -> None:
    secret = Secret("sk-llmaas-topsecret")
    assert "topsecret" not in repr(secret)
    assert "topsecret" not in str(secret)
    assert "topsecret" not in f"{secret} {secret!r}"
    assert secret.reveal() == "sk-llmaas-topsecret"
