"""TLS for the gateway itself (TLS 1.3 only) and for the engines it calls (custom CA bundles).

The server's ``SSLContext`` is built here rather than by uvicorn's ``ssl_*`` options, because those
cannot set a minimum protocol version: the gateway must refuse TLS 1.2 and below outright, not merely
prefer 1.3. A client CA makes client certificates *optional* (``CERT_OPTIONAL``): any client may
connect, but a certificate it presents must chain to that CA, and the admin API can then require one
(``api/client_certificates.py``).

``--tls-self-signed`` is for trials on one machine: a certificate for ``localhost``/``127.0.0.1`` kept
under the data directory and reused while it stays valid, so a client pinned to it (``verify=`` the
PEM file, or its SHA-256 fingerprint) keeps working across restarts.

``cryptography`` is imported only when a certificate is generated or inspected: a gateway with its own
certificate, or none, never loads it.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_3
HSTS = "max-age=31536000; includeSubDomains"

SELF_SIGNED_DAYS = 90
RENEW_BEFORE = timedelta(days=7)
"""A self-signed certificate this close to its end is replaced at start, not reused."""
SELF_SIGNED_NAMES = ("localhost", "127.0.0.1", "::1")


class TlsError(RuntimeError):
    """A TLS setting that cannot work (missing file, key not matching its certificate...): the
    server refuses to start with this message rather than serve without the protection asked for."""


@dataclass(frozen=True, slots=True)
class SelfSigned:
    cert: Path
    key: Path
    fingerprint: str
    """SHA-256 of the certificate (DER), ``AB:CD:...``: what a client may pin or compare."""
    reused: bool


@dataclass(frozen=True, slots=True)
class ServerTls:
    context: ssl.SSLContext
    cert: Path
    client_ca: Path | None
    self_signed: SelfSigned | None


def server_tls(
    *,
    cert: Path | None,
    key: Path | None,
    client_ca: Path | None,
    self_signed: bool,
    directory: Path,
) -> ServerTls | None:
    """The server's TLS from its settings, or ``None`` when TLS is off.

    Settings that half-configure TLS (a certificate without its key, a client CA without any
    certificate) are refused: silently serving plain HTTP would be the one wrong outcome.
    """
    if self_signed and (cert is not None or key is not None):
        raise TlsError("--tls-self-signed generates its own certificate: drop --tls-cert/--tls-key")
    if (cert is None) != (key is None):
        raise TlsError("TLS needs both --tls-cert and --tls-key")
    generated: SelfSigned | None = None
    if self_signed:
        generated = ensure_self_signed(directory)
        cert, key = generated.cert, generated.key
    if cert is None or key is None:
        if client_ca is not None:
            raise TlsError(
                "--tls-client-ca needs TLS: add --tls-cert/--tls-key or --tls-self-signed"
            )
        return None
    context = server_context(cert, key, client_ca)
    return ServerTls(context=context, cert=cert, client_ca=client_ca, self_signed=generated)


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """TLS 1.3 or nothing: an older client fails the handshake (``protocol_version`` alert)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as error:
        raise TlsError(f"TLS file not found: {error.filename}") from None
    except (ssl.SSLError, OSError) as error:
        raise TlsError(
            f"cannot load the TLS certificate {cert} with its key {key}: {error}"
        ) from None
    if client_ca is not None:
        _load_ca(context, client_ca, "--tls-client-ca")
        context.verify_mode = ssl.CERT_OPTIONAL
    # The HTTP/1.1 protocol uvicorn runs (httptools) is the only one to offer.
    context.set_alpn_protocols(["http/1.1"])
    return context


def upstream_context(ca_bundle: Path) -> ssl.SSLContext:
    """A client context that trusts ``ca_bundle`` (instead of the system's CAs) for one engine.

    Verification and host name checking stay on: a private CA is a reason to trust other roots, never
    to trust anything.
    """
    try:
        return ssl.create_default_context(cafile=_existing(ca_bundle, "ca_bundle"))
    except ssl.SSLError as error:
        raise TlsError(_no_ca(ca_bundle, "ca_bundle", error)) from None


def _load_ca(context: ssl.SSLContext, path: Path, what: str) -> None:
    try:
        context.load_verify_locations(cafile=_existing(path, what))
    except ssl.SSLError as error:
        raise TlsError(_no_ca(path, what, error)) from None


def _no_ca(path: Path, what: str, error: ssl.SSLError) -> str:
    return f"{what} {path} holds no usable CA certificate ({error.reason or error})"


def _existing(path: Path, what: str) -> str:
    if not path.is_file():
        raise TlsError(f"{what} {path} is not a file")
    return str(path)


# --- self-signed certificates ------------------------------------------------------------------


def ensure_self_signed(directory: Path, *, now: datetime | None = None) -> SelfSigned:
    """The certificate and key under ``directory``, generated unless a valid pair is there."""
    now = now or datetime.now(UTC)
    cert, key = directory / "self-signed-cert.pem", directory / "self-signed-key.pem"
    fingerprint = _reusable(cert, key, now)
    if fingerprint is not None:
        return SelfSigned(cert, key, fingerprint, reused=True)
    directory.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = _generate(now)
    _write_private(key, key_pem)
    cert.write_bytes(cert_pem)
    return SelfSigned(cert, key, fingerprint_of(cert), reused=False)


def fingerprint_of(cert: Path) -> str:
    """SHA-256 of the certificate's DER form, as ``openssl x509 -fingerprint -sha256`` writes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(cert.read_bytes()).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def _reusable(cert: Path, key: Path, now: datetime) -> str | None:
    """The fingerprint of the pair on disk if it may be served again: it parses, the key is the
    certificate's, it names localhost and 127.0.0.1 and stays valid for a while yet."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if not (cert.is_file() and key.is_file()):
        return None
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        private_key = serialization.load_pem_private_key(key.read_bytes(), password=None)
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return None
    covered = {str(n) for n in names.get_values_for_type(x509.DNSName)}
    covered |= {str(a) for a in names.get_values_for_type(x509.IPAddress)}
    if (
        private_key.public_key() != certificate.public_key()
        or not set(SELF_SIGNED_NAMES) <= covered
        or certificate.not_valid_before_utc > now
        or certificate.not_valid_after_utc - now < RENEW_BEFORE
    ):
        return None
    return fingerprint_of(cert)


def _generate(now: datetime) -> tuple[bytes, bytes]:
    """An ECDSA P-256 key and a self-signed end-entity certificate for the loopback names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "llmaas self-signed (localhost)")])
    alternative = [
        x509.DNSName("localhost"),
        *(x509.IPAddress(ipaddress.ip_address(a)) for a in SELF_SIGNED_NAMES[1:]),
    ]
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only from the moment it exists (no window where the key is world-readable)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
