"""The models YAML: the packaged default and the errors a typo gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmaas.adapters.model_config import ConfigError, load_models
from llmaas.domain.models import Capability
from llmaas.domain.secrets import Secret


def test_the_default_config_serves_the_three_embedded_models() -> None:
    models = {m.id: m for m in load_models(None)}
    assert set(models) == {
        "qwen2.5-coder:0.5b",
        "smollm2:135m",
        "all-minilm:22m",
        "whisper:base",
        "whisper:tiny-en",
    }
    assert models["qwen2.5-coder:0.5b"].supports(Capability.TOOLS)
    assert models["all-minilm:22m"].embedding_dimensions == 384
    assert [d.engine for d in models["qwen2.5-coder:0.5b"].deployments] == ["llama_cpp"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    return path


REMOTE = """
models:
  - id: big
    owned_by: ops
    created: 2026-01-01
    context_length: 8192
    capabilities: [chat]
    deployments:
      - name: gpu-1
        engine: vllm
        url: http://gpu-1:8000/v1
        api_key_file: vllm.key
"""


def test_remote_deployments_and_key_files(tmp_path: Path) -> None:
    (tmp_path / "vllm.key").write_text("secret-token\n", encoding="utf-8")
    (model,) = load_models(write(tmp_path, REMOTE))
    (deployment,) = model.deployments
    assert deployment.options["url"] == "http://gpu-1:8000/v1"
    key = deployment.options["api_key"]
    assert isinstance(key, Secret)
    assert key.reveal() == "secret-token"
    assert "secret-token" not in repr(deployment)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (REMOTE.replace("capabilities: [chat]", "capabilities: [telepathy]"), "capabilities"),
        (REMOTE.replace("context_length: 8192", "context_length: -1"), "context_length"),
        (REMOTE + REMOTE.replace("models:\n", ""), "declared twice"),
        ("models: [", "models.yaml"),
        (REMOTE.replace("    owned_by: ops\n", ""), "owned_by"),
    ],
)
def test_mistakes_fail_at_start_with_the_file_named(
    tmp_path: Path, text: str, fragment: str
) -> None:
    (tmp_path / "vllm.key").write_text("k", encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment) as caught:
        load_models(write(tmp_path, text))
    assert "models.yaml" in str(caught.value)
