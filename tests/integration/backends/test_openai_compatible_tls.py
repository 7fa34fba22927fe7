"""Remote engines over TLS: verified by default, against a deployment's own ``ca_bundle`` when set.

The fake engine serves HTTPS with a certificate signed by a throw-away CA, as a private inference
cluster would: the system's CAs do not know it, so only a deployment given that CA reaches it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from llmaas.adapters.backends.registry import EngineContext, EngineNotAvailable, default_registry
from llmaas.domain.errors import BackendUnavailable
from llmaas.domain.models import DeploymentSpec
from llmaas.openai_schema.chat import ChatCompletionRequest
from llmaas.ports.backends import InferenceBackend
from tests.fakes.openai_upstream import FakeUpstream, Scenario
from tests.support.pki import TestCa

CONTEXT = EngineContext(cache_dir=Path("/nonexistent"), threads=1, context_length=2048)
REQUEST = ChatCompletionRequest.model_validate(
    {"model": "remote", "messages": [{"role": "user", "content": "hi"}]}
)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    return TestCa(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def upstream(ca: TestCa) -> AsyncIterator[FakeUpstream]:
    context = ca.server().server_context()
    async with FakeUpstream(Scenario(chunks=("Hello", " over TLS")), ssl_context=context) as fake:
        yield fake


@asynccontextmanager
async def backend(**options: Any) -> AsyncIterator[InferenceBackend]:
    spec = DeploymentSpec(name="tls-engine", engine="vllm", options=options)
    built = default_registry().build(spec, CONTEXT)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def test_an_engine_signed_by_the_deployments_ca_bundle_is_reached(
    upstream: FakeUpstream, ca: TestCa
) -> None:
    assert upstream.base_url.startswith("https://")
    async with backend(url=upstream.base_url, ca_bundle=str(ca.cert)) as engine:
        reply = await engine.chat(REQUEST)
    assert reply.choices[0].message.content == "Hello over TLS"


async def test_without_its_ca_the_engine_is_unavailable_not_a_crash(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Verification is on by default: the system's CAs do not know the engine's issuer, and
    neither does another private CA. Both are the usual 'cannot be reached' (a 503, failover)."""
    other = TestCa(tmp_path / "other", "another CA")
    for options in ({}, {"ca_bundle": str(other.cert)}):
        async with backend(url=upstream.base_url, **options) as engine:
            with pytest.raises(BackendUnavailable):
                await engine.chat(REQUEST)
            assert await engine.is_healthy() is False
    assert upstream.requests == []  # no request was ever sent over an unverified connection


async def test_tls_verify_false_connects_and_says_so(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmaas.backends"):
        async with backend(url=upstream.base_url, tls_verify=False) as engine:
            reply = await engine.chat(REQUEST)
    assert reply.choices[0].message.content == "Hello over TLS"
    warnings = [r for r in caplog.records if r.name == "llmaas.backends"]
    assert warnings
    assert "verification is OFF" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ca_bundle": "/nonexistent/ca.pem"}, "is not a file"),
        ({"tls_verify": "no"}, "tls_verify must be true or false"),
        ({"tls_verify": False, "ca_bundle": "CA"}, "contradict"),
    ],
)
def test_tls_options_that_cannot_work_stop_the_start(
    options: dict[str, Any], message: str, ca: TestCa
) -> None:
    if options.get("ca_bundle") == "CA":
        options = {**options, "ca_bundle": str(ca.cert)}
    spec = DeploymentSpec(
        name="tls-engine", engine="vllm", options={"url": "https://127.0.0.1:1/v1", **options}
    )
    with pytest.raises(EngineNotAvailable, match=message):
        default_registry().build(spec, CONTEXT)


def test_a_file_that_holds_no_certificate_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n", encoding="utf-8")
    spec = DeploymentSpec(
        name="tls-engine",
        engine="vllm",
        options={"url": "https://127.0.0.1:1/v1", "ca_bundle": str(bundle)},
    )
    with pytest.raises(EngineNotAvailable, match="no usable CA certificate"):
        default_registry().build(spec, CONTEXT)
