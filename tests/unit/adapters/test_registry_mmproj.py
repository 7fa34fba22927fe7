"""The embedded engine is text only: a multimodal projector is refused at start, clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmaas.adapters.backends.registry import EngineContext, EngineNotAvailable, default_registry
from llmaas.domain.models import DeploymentSpec


def test_an_mmproj_deployment_is_refused_with_the_way_out() -> None:
    spec = DeploymentSpec(
        "local-vision",
        "llama_cpp",
        options={"weights": {"path": "/m/model.gguf"}, "mmproj": "/m/mmproj.gguf"},
    )
    context = EngineContext(cache_dir=Path("/nonexistent"), threads=1, context_length=2048)
    with pytest.raises(EngineNotAvailable, match=r"mmproj.*vllm or ollama"):
        default_registry().build(spec, context)
