"""TLS in process: a real ``llmaas serve --tls-self-signed --tls-client-ca CA`` and real TLS clients.

The server refuses TLS 1.2 (Python's ``ssl`` and ``openssl s_client``), answers TLS 1.3 with HSTS on
every response, serves the official SDK over HTTPS, and keeps ``/admin/`` for clients holding a
certificate from its client CA. Behind it, a remote engine served over TLS by a private CA is reached
by the deployment that names that CA in ``ca_bundle``, and refused (the usual 503) by one that does
not. Only remote engines are configured: no embedded model is loaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from llmaas.adapters.tls import HSTS
from tests.e2e.conftest import BIN, Server, server_environment, start_server, stop_server
from tests.fakes.openai_upstream import FakeUpstream, Scenario
from tests.support.pki import TestCa

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class TlsSetup:
    server: Server
    cert: Path
    """The self-signed certificate the server generated: what clients trust."""
    port: int
    client_ca: TestCa
    admin_key: str


def models_config(upstream_url: str, ca_bundle: Path | None = None) -> str:
    model = """
  - id: {id}
    owned_by: ops
    created: 2026-01-01
    context_length: 8192
    capabilities: [chat]
    deployments:
      - name: {id}-gpu
        engine: vllm
        url: {url}
        connect_timeout: 2
"""
    trusted = model.format(id="trusted-chat", url=upstream_url)
    if ca_bundle is not None:
        trusted += f"        ca_bundle: {ca_bundle}\n"
    untrusted = model.format(id="untrusted-chat", url=upstream_url)
    return "models:" + trusted + untrusted


@contextmanager
def upstream_in_a_thread(context: ssl.SSLContext) -> Iterator[str]:
    """The fake engine over TLS on a loop of its own: it answers the server whatever the tests'
    loop is doing (a TLS handshake, unlike a TCP accept, needs its loop to run)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="tls-upstream", daemon=True)
    thread.start()

    async def enter() -> FakeUpstream:
        return await FakeUpstream(
            Scenario(chunks=("Hello", " over TLS")), ssl_context=context
        ).__aenter__()

    upstream = asyncio.run_coroutine_threadsafe(enter(), loop).result(10)
    try:
        yield upstream.base_url
    finally:
        asyncio.run_coroutine_threadsafe(upstream.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSetup]:
    pki = tmp_path_factory.mktemp("pki")
    engine_ca = TestCa(pki / "engines", "engine CA")
    client_ca = TestCa(pki / "clients", "client CA")
    with upstream_in_a_thread(engine_ca.server("engine").server_context()) as upstream_url:
        models = pki / "models.yaml"
        models.write_text(models_config(upstream_url, engine_ca.cert), encoding="utf-8")
        data_dir = tmp_path_factory.mktemp("llmaas-tls")
        server = start_server(
            data_dir,
            extra_args=(
                "--config",
                str(models),
                "--tls-self-signed",
                "--tls-client-ca",
                str(client_ca.cert),
            ),
            ready_path="/healthz",
            scheme="https",
        )
        try:
            admin = server.cli("keys", "create", "--name", "admin", "--admin", "--json")
            assert admin.returncode == 0, admin.stderr
            yield TlsSetup(
                server=server,
                cert=data_dir / "tls" / "self-signed-cert.pem",
                port=int(server.root_url.rsplit(":", 1)[1]),
                client_ca=client_ca,
                admin_key=json.loads(admin.stdout)["key"],
            )
        finally:
            stop_server(server)


def client_context(tls: TlsSetup, *, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.cert))
    if maximum is not None:
        context.maximum_version = maximum
    return context


def handshake(tls: TlsSetup, context: ssl.SSLContext) -> str | None:
    with (
        socket.create_connection(("127.0.0.1", tls.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        return wrapped.version()


def test_the_generated_certificate_and_its_fingerprint_are_printed(tls: TlsSetup) -> None:
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(tls.cert.read_text())).hexdigest().upper()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    logs = tls.server.logs()
    assert fingerprint in logs
    assert f"https://127.0.0.1:{tls.port}/v1" in logs


def test_a_tls_1_2_client_is_refused(tls: TlsSetup) -> None:
    with pytest.raises(ssl.SSLError):
        handshake(tls, client_context(tls, maximum=ssl.TLSVersion.TLSv1_2))


def test_a_tls_1_3_client_gets_healthz_with_hsts(tls: TlsSetup) -> None:
    assert handshake(tls, client_context(tls)) == "TLSv1.3"
    response = httpx.get(f"{tls.server.root_url}/healthz", verify=client_context(tls))
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == HSTS
    assert HSTS == "max-age=31536000; includeSubDomains"


def test_errors_carry_hsts_too(tls: TlsSetup) -> None:
    response = httpx.get(f"{tls.server.root_url}/no-such-route", verify=client_context(tls))
    assert response.status_code == 404
    assert response.headers["strict-transport-security"] == HSTS


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
@pytest.mark.parametrize(("version", "accepted"), [("-tls1_2", False), ("-tls1_3", True)])
def test_openssl_s_client(tls: TlsSetup, version: str, accepted: bool) -> None:
    assert OPENSSL is not None
    done = subprocess.run(
        [
            OPENSSL,
            "s_client",
            "-connect",
            f"127.0.0.1:{tls.port}",
            version,
            "-CAfile",
            str(tls.cert),
            "-verify_return_error",
            "-brief",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = done.stdout + done.stderr
    if accepted:
        assert done.returncode == 0, output
        assert "Protocol version: TLSv1.3" in output
    else:
        assert done.returncode != 0, output


def test_the_openai_sdk_lists_models_over_https(tls: TlsSetup) -> None:
    with httpx.Client(verify=client_context(tls)) as http_client:
        client = openai.OpenAI(
            base_url=tls.server.base_url,
            api_key=tls.server.api_key,
            http_client=http_client,
            max_retries=0,
        )
        ids = {model.id for model in client.models.list()}
    assert {"trusted-chat", "untrusted-chat"} <= ids


def test_the_admin_api_needs_a_certificate_from_the_client_ca(tls: TlsSetup) -> None:
    url = f"{tls.server.root_url}/admin/v1/keys"
    headers = {"Authorization": f"Bearer {tls.admin_key}"}
    refused = httpx.get(url, headers=headers, verify=client_context(tls))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "client_certificate_required"
    assert refused.headers["strict-transport-security"] == HSTS

    with_certificate = client_context(tls)
    issued = tls.client_ca.client("operator")
    with_certificate.load_cert_chain(issued.cert, issued.key)
    accepted = httpx.get(url, headers=headers, verify=with_certificate)
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["strict-transport-security"] == HSTS


def test_a_client_certificate_from_another_ca_is_refused(tls: TlsSetup, tmp_path: Path) -> None:
    stranger = TestCa(tmp_path, "stranger CA").client("intruder")
    context = client_context(tls)
    context.load_cert_chain(stranger.cert, stranger.key)
    url = f"{tls.server.root_url}/admin/v1/keys"
    with pytest.raises(httpx.TransportError):
        httpx.get(url, headers={"Authorization": f"Bearer {tls.admin_key}"}, verify=context)


def test_an_engine_over_tls_is_reached_with_its_ca_bundle_only(tls: TlsSetup) -> None:
    with httpx.Client(verify=client_context(tls)) as http_client:
        client = openai.OpenAI(
            base_url=tls.server.base_url,
            api_key=tls.server.api_key,
            http_client=http_client,
            max_retries=0,
        )
        reply = client.chat.completions.create(
            model="trusted-chat", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content == "Hello over TLS"
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model="untrusted-chat", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 503
    assert caught.value.code == "backend_unavailable"
    assert "Traceback" not in tls.server.logs()


def test_a_certificate_of_ones_own_from_the_environment(tmp_path: Path) -> None:
    """``LLMAAS_TLS_CERT``/``LLMAAS_TLS_KEY``: a certificate from the operator's own CA."""
    ca = TestCa(tmp_path / "pki", "operator CA")
    issued = ca.server("gateway")
    models = tmp_path / "models.yaml"
    models.write_text(models_config("http://127.0.0.1:9/v1"), encoding="utf-8")
    server = start_server(
        tmp_path / "data",
        extra_args=("--config", str(models)),
        env={"LLMAAS_TLS_CERT": str(issued.cert), "LLMAAS_TLS_KEY": str(issued.key)},
        ready_path="/healthz",
        scheme="https",
    )
    try:
        trusting = ssl.create_default_context(cafile=str(ca.cert))
        response = httpx.get(f"{server.root_url}/healthz", verify=trusting)
        assert response.headers["strict-transport-security"] == HSTS
        # No client CA: the admin API is guarded by its admin key alone, as without TLS.
        admin = httpx.get(f"{server.root_url}/admin/v1/keys", verify=trusting)
        assert admin.status_code == 401
    finally:
        stop_server(server)
    assert not (tmp_path / "data" / "tls").exists()  # nothing self-signed was made


def test_plain_http_sends_no_hsts(tmp_path: Path) -> None:
    """RFC 6797: HSTS only over a secure transport; without TLS flags nothing changes."""
    models = tmp_path / "models.yaml"
    models.write_text(models_config("http://127.0.0.1:9/v1"), encoding="utf-8")
    server = start_server(
        tmp_path / "data", extra_args=("--config", str(models)), ready_path="/healthz"
    )
    try:
        response = httpx.get(f"{server.root_url}/healthz")
        assert response.status_code == 200
        assert "strict-transport-security" not in response.headers
    finally:
        stop_server(server)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--tls-cert", "cert.pem"), "both --tls-cert and --tls-key"),
        (("--tls-client-ca", "ca.pem"), "--tls-client-ca needs TLS"),
        (("--tls-cert", "cert.pem", "--tls-key", "key.pem"), "TLS file not found"),
    ],
)
def test_tls_settings_that_cannot_work_stop_the_server(
    tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    """Never a fallback to plain HTTP: the server does not start, and says why."""
    done = subprocess.run(
        [str(BIN / "llmaas"), "serve", "--port", "0", *flags],
        env=server_environment(tmp_path / "data"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert message in " ".join(done.stderr.split())
