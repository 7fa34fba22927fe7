"""The production path end to end: the official SDK -> llmaas -> a remote OpenAI-compatible engine.

The engine is the fake one of the integration tests (a real aiohttp server on a real socket); one of the
model's two deployments is down, so every request also exercises failover.
"""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import start_server, stop_server
from tests.fakes.openai_upstream import FakeUpstream, Scenario, closed_port, rate_limited


def config(upstream_url: str) -> str:
    return f"""
models:
  - id: remote-chat
    aliases: [gpt-compatible]
    owned_by: ops
    created: 2026-01-01
    context_length: 8192
    embedding_dimensions: 3
    capabilities: [chat, completions, embeddings]
    deployments:
      - name: gpu-down
        engine: vllm
        url: http://127.0.0.1:{closed_port()}/v1
        upstream_model: vendor/Remote-Chat
        connect_timeout: 1
      - name: gpu-up
        engine: vllm
        url: {upstream_url}
        upstream_model: vendor/Remote-Chat
"""


async def test_sdk_through_llmaas_to_a_remote_engine(tmp_path: Path) -> None:
    async with FakeUpstream(Scenario(embedding=[0.1, 0.2, 0.3])) as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(config(upstream.base_url), encoding="utf-8")
        server = start_server(
            tmp_path / "data", extra_args=("--config", str(models)), ready_path="/healthz"
        )
        try:
            client = openai.AsyncOpenAI(
                base_url=server.base_url, api_key=server.api_key, max_retries=0
            )

            for _ in range(4):  # round-robin starts on the dead deployment half of the time
                reply = await client.chat.completions.create(
                    model="gpt-compatible", messages=[{"role": "user", "content": "hi"}]
                )
                assert reply.choices[0].message.content == "Hello, world"
                assert reply.model == "remote-chat"
            assert upstream.last.body["model"] == "vendor/Remote-Chat"
            assert upstream.last.headers.get("Authorization") is None  # no key configured

            stream = await client.chat.completions.create(
                model="remote-chat", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            chunks = [chunk async for chunk in stream]
            assert (
                "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                == "Hello, world"
            )
            assert all(c.usage is None for c in chunks)  # the client did not ask for usage...
            assert upstream.last.body["stream_options"] == {
                "include_usage": True
            }  # ...metering did

            completion = await client.completions.create(model="remote-chat", prompt="Say")
            assert completion.choices[0].text
            embedded = await client.embeddings.create(model="remote-chat", input=["a", "b"])
            assert [d.embedding for d in embedded.data] == [
                pytest.approx([0.1, 0.2, 0.3]),
                pytest.approx([0.2, 0.4, 0.6]),
            ]
            assert upstream.last.body["encoding_format"] == "float"

            upstream.scenario = Scenario(error=rate_limited("7"))
            with pytest.raises(openai.RateLimitError) as caught:
                await client.chat.completions.create(
                    model="remote-chat", messages=[{"role": "user", "content": "hi"}]
                )
            assert caught.value.response.headers["retry-after"] == "7"
            assert caught.value.code == "upstream_rate_limited"
        finally:
            stop_server(server)
    logs = server.logs()
    usage_lines = [json.loads(line) for line in logs.splitlines() if '"event": "usage"' in line]
    assert {line["deployment"] for line in usage_lines if line["outcome"] == "ok"} == {"gpu-up"}
