"""uvicorn's httptools protocol (with this server's connection limits), plus the ASGI ``tls`` scope
extension.

uvicorn (0.54) does not fill ``scope["extensions"]["tls"]``, so an ASGI application cannot tell
whether the client presented a certificate. This subclass reads the connection's TLS state once, when
the connection is made (the handshake is complete by then), and hands the same small dictionary to
each request on that connection: one dictionary assignment per request, and only when the server
runs with a client CA, which is the only case that needs it.

A certificate appears in ``client_cert_chain`` only after it verified against the client CA: with
``CERT_OPTIONAL`` a certificate that does not verify fails the handshake, so no request is ever made
with it.
"""

from __future__ import annotations

import asyncio
import ssl

from llmaas.adapters.connection_limits import LimitedHttpToolsProtocol

_VERSIONS = {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}


def tls_extension(ssl_object: ssl.SSLObject | None) -> dict[object, object] | None:
    """The ASGI TLS extension's fields for one connection (``None`` over plain TCP).

    Only the client's own certificate is listed (Python exposes no verified chain before 3.13);
    ``server_cert`` and ``cipher_suite`` stay ``None``, which the extension allows.
    """
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": _subject(der) if der else None,
        "client_cert_error": None,
        "tls_version": _VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


def _subject(der: bytes) -> str:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


class TlsScopeHttpToolsProtocol(LimitedHttpToolsProtocol):
    _tls: dict[object, object] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls_extension(transport.get_extra_info("ssl_object"))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}
