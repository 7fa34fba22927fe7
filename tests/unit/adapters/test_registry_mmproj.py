"""A deployment's ``mmproj`` (the multimodal projector) is read as a path or a weights mapping, and
a projector file that is not there stops the start with its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmaas.adapters.backends.local.llama_cpp import LlamaCppBackend
from llmaas.adapters.backends.local.weights import WeightsError, WeightsSource
from llmaas.adapters.backends.registry import EngineContext, default_registry
from llmaas.domain.models import DeploymentSpec

CONTEXT = EngineContext(cache_dir=Path("/nonexistent"), threads=1, context_length=2048)


def projector_of(mmproj: object) -> WeightsSource | None:
    options = {"weights": {"path": "/m/model.gguf"}, "mmproj": mmproj}
    if mmproj is None:
        del options["mmproj"]
    backend = default_registry().build(
        DeploymentSpec("local-vision", "llama_cpp", options), CONTEXT
    )
    assert isinstance(backend, LlamaCppBackend)
    return backend._options.projector


def test_mmproj_as_a_path_or_a_mapping() -> None:
    assert projector_of("/m/mmproj.gguf") == WeightsSource(path=Path("/m/mmproj.gguf"))
    assert projector_of({"path": "/m/p.gguf", "sha256": "ab"}) == WeightsSource(
        path=Path("/m/p.gguf"), sha256="ab"
    )
    assert projector_of(None) is None


def test_a_missing_projector_file_is_named_at_start(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    spec = DeploymentSpec(
        "local-vision",
        "llama_cpp",
        {"weights": {"path": str(model)}, "mmproj": str(tmp_path / "absent-mmproj.gguf")},
    )
    backend = default_registry().build(spec, CONTEXT)
    assert isinstance(backend, LlamaCppBackend)
    with pytest.raises(WeightsError, match=r"absent-mmproj\.gguf"):
        backend.prepare()
