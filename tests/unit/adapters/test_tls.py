"""The server's TLS context (1.3 only) and the self-signed certificate kept for trials."""

from __future__ import annotations

import hashlib
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llmaas.adapters.tls import (
    SELF_SIGNED_DAYS,
    TlsError,
    ensure_self_signed,
    server_context,
    server_tls,
    upstream_context,
)
from tests.support.pki import TestCa


def sha256_of(pem: Path) -> str:
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.read_text())).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def test_a_self_signed_certificate_is_generated_then_reused(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls")
    assert not first.reused
    assert first.fingerprint == sha256_of(first.cert)
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    again = ensure_self_signed(tmp_path / "tls")
    assert again.reused
    assert again.fingerprint == first.fingerprint


def test_a_self_signed_certificate_near_its_end_is_replaced(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path)
    later = datetime.now(UTC) + timedelta(days=SELF_SIGNED_DAYS - 1)
    renewed = ensure_self_signed(tmp_path, now=later)
    assert not renewed.reused
    assert renewed.fingerprint != first.fingerprint


def test_a_key_that_is_not_the_certificates_is_replaced(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "a")
    other = ensure_self_signed(tmp_path / "b")
    first.key.write_bytes(other.key.read_bytes())
    assert not ensure_self_signed(tmp_path / "a").reused


def test_the_self_signed_certificate_verifies_for_localhost_and_127_0_0_1(
    tmp_path: Path,
) -> None:
    generated = ensure_self_signed(tmp_path)
    client = ssl.create_default_context(cafile=str(generated.cert))
    server = server_context(generated.cert, generated.key)
    for name in ("localhost", "127.0.0.1"):
        assert _handshake(client, server, name) == "TLSv1.3"


def test_the_server_context_refuses_anything_below_tls_1_3(tmp_path: Path) -> None:
    generated = ensure_self_signed(tmp_path)
    server = server_context(generated.cert, generated.key)
    assert server.minimum_version is ssl.TLSVersion.TLSv1_3
    assert server.verify_mode is ssl.CERT_NONE
    old_client = ssl.create_default_context(cafile=str(generated.cert))
    old_client.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        _handshake(old_client, server, "localhost")


def test_a_client_ca_makes_client_certificates_optional(tmp_path: Path) -> None:
    ca = TestCa(tmp_path / "pki")
    generated = ensure_self_signed(tmp_path / "tls")
    server = server_context(generated.cert, generated.key, ca.cert)
    assert server.verify_mode is ssl.CERT_OPTIONAL


def test_settings_that_half_configure_tls_are_refused(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"

    def build(**overrides: object) -> object:
        options: dict[str, object] = {
            "cert": None,
            "key": None,
            "client_ca": None,
            "self_signed": False,
            "directory": tmp_path / "tls",
        }
        return server_tls(**(options | overrides))  # type: ignore[arg-type]

    assert build() is None
    with pytest.raises(TlsError, match="both"):
        build(cert=cert)
    with pytest.raises(TlsError, match="drop --tls-cert"):
        build(cert=cert, key=cert, self_signed=True)
    with pytest.raises(TlsError, match="needs TLS"):
        build(client_ca=cert)
    with pytest.raises(TlsError, match="not found"):
        build(cert=cert, key=cert)


def test_an_upstream_context_verifies_against_its_bundle_only(tmp_path: Path) -> None:
    ca = TestCa(tmp_path)
    context = upstream_context(ca.cert)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "llmaas test CA"),),)
    ]


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext, name: str) -> str | None:
    """A handshake in memory, no socket: the negotiated version (or either side's SSLError)."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(client_in, client_out, server_hostname=name)
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    done: set[str] = set()
    for _ in range(10):
        for side, ssl_object in (("client", client_side), ("server", server_side)):
            if side not in done:
                try:
                    ssl_object.do_handshake()
                    done.add(side)
                except ssl.SSLWantReadError:
                    pass
            server_in.write(client_out.read())
            client_in.write(server_out.read())
        if len(done) == 2:
            return client_side.version()
    raise AssertionError("the handshake did not finish")
