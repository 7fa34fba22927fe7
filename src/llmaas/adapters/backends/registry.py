"""Engine kind -> adapter factory.

Built-in engines register exactly the way a plugin would (``registry.register("kind", factory)``).
Heavy engines are imported only when a deployment uses them, and a missing extra fails with the command
that installs it rather than an ``ImportError`` deep in a traceback.
"""

from __future__ import annotations

import importlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmaas.adapters.backends.remote_rerank import RerankApi
from llmaas.adapters.tls import TlsError, upstream_context
from llmaas.domain.models import DeploymentSpec
from llmaas.domain.secrets import Secret
from llmaas.ports.backends import InferenceBackend

_log = logging.getLogger("llmaas.backends")


@dataclass(frozen=True, slots=True)
class EngineContext:
    """Process-wide settings an engine may need."""

    cache_dir: Path
    threads: int
    context_length: int


BackendFactory = Callable[[DeploymentSpec, EngineContext], InferenceBackend]


_EMBEDDED = frozenset({"llama_cpp", "onnx_embedder", "faster_whisper"})


def runs_in_process(engine: str) -> bool:
    """An embedded engine runs inside the gateway, so wherever the gateway runs."""
    return engine in _EMBEDDED


class EngineNotAvailable(RuntimeError):
    pass


class BackendRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, BackendFactory] = {}

    def register(self, engine: str, factory: BackendFactory) -> None:
        self._factories[engine] = factory

    def engines(self) -> list[str]:
        return sorted(self._factories)

    def build(self, spec: DeploymentSpec, context: EngineContext) -> InferenceBackend:
        factory = self._factories.get(spec.engine)
        if factory is None:
            raise EngineNotAvailable(
                f"deployment '{spec.name}': unknown engine '{spec.engine}' "
                f"(known: {', '.join(self.engines())})"
            )
        return factory(spec, context)


def default_registry() -> BackendRegistry:
    registry = BackendRegistry()
    registry.register("llama_cpp", _llama_cpp)
    registry.register("onnx_embedder", _onnx_embedder)
    registry.register("faster_whisper", _faster_whisper)
    registry.register("openai_compatible", _openai_compatible)
    for alias in ("vllm", "ollama", "llama_cpp_server", "tgi", "tei"):
        registry.register(alias, _openai_compatible)
    return registry


def _import(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise EngineNotAvailable(
            f"the '{extra}' engines are not installed ({error.name} is missing): "
            f"run 'make install' or pip install 'llmaas[{extra}]'"
        ) from error


def _llama_cpp(spec: DeploymentSpec, context: EngineContext) -> InferenceBackend:
    options = spec.options
    module = _import("llmaas.adapters.backends.local.llama_cpp", "embedded")
    weights = _import("llmaas.adapters.backends.local.weights", "embedded")
    return module.LlamaCppBackend(  # type: ignore[no-any-return]
        spec.name,
        module.LlamaCppOptions(
            weights=weights.weights_source(options),
            cache_dir=context.cache_dir,
            context_length=int(options.get("context_length", context.context_length)),
            threads=int(options.get("threads", context.threads)),
            batch_size=int(options.get("batch_size", 512)),
            default_temperature=float(options.get("default_temperature", 0.7)),
            default_top_p=float(options.get("default_top_p", 0.8)),
            max_output_tokens=_optional_int(options.get("max_output_tokens")),
            projector=_projector(options, weights),
        ),
    )


def _projector(options: dict[str, object], weights: Any) -> Any:
    """``mmproj``: the multimodal projector (image input), a path or a ``weights``-style mapping."""
    value = options.get("mmproj")
    if value is None:
        return None
    if isinstance(value, str):
        return weights.WeightsSource(path=Path(value))
    return weights.weights_source(options, key="mmproj")


def _onnx_embedder(spec: DeploymentSpec, context: EngineContext) -> InferenceBackend:
    module = _import("llmaas.adapters.backends.local.onnx_embedder", "embedded")
    weights = _import("llmaas.adapters.backends.local.weights", "embedded")
    options = spec.options
    return module.OnnxEmbedderBackend(  # type: ignore[no-any-return]
        spec.name,
        module.OnnxEmbedderOptions(
            weights=weights.weights_source(options),
            tokenizer=weights.weights_source(options, "tokenizer"),
            cache_dir=context.cache_dir,
            max_input_tokens=int(options.get("max_input_tokens", 256)),
            threads=int(options.get("threads", context.threads)),
        ),
    )


def _faster_whisper(spec: DeploymentSpec, context: EngineContext) -> InferenceBackend:
    module = _import("llmaas.adapters.backends.local.faster_whisper", "embedded")
    weights = _import("llmaas.adapters.backends.local.weights", "embedded")
    options = spec.options
    files = options.get("files")
    if not isinstance(files, dict):
        raise EngineNotAvailable(f"deployment '{spec.name}' needs 'files' (see models.yaml)")
    return module.FasterWhisperBackend(  # type: ignore[no-any-return]
        spec.name,
        module.FasterWhisperOptions(
            files={name: weights.weights_source(files, name) for name in files},
            directory=str(options.get("directory", spec.name)),
            cache_dir=context.cache_dir,
            threads=int(options.get("threads", context.threads)),
            compute_type=str(options.get("compute_type", "int8")),
            beam_size=int(options.get("beam_size", 5)),
            vad_filter=bool(options.get("vad_filter", True)),
        ),
    )


def _openai_compatible(spec: DeploymentSpec, _context: EngineContext) -> InferenceBackend:
    from llmaas.adapters.backends.openai_compatible import OpenAICompatibleBackend, RemoteOptions

    options = spec.options
    if "url" not in options:
        raise EngineNotAvailable(
            f"deployment '{spec.name}' needs a 'url' (e.g. http://host:8000/v1)"
        )
    api_key = options.get("api_key")
    return OpenAICompatibleBackend(
        spec.name,
        RemoteOptions(
            base_url=str(options["url"]),
            upstream_model=_optional_str(options.get("upstream_model")),
            api_key=api_key
            if isinstance(api_key, Secret)
            else Secret(str(api_key))
            if api_key
            else None,
            connect_timeout=float(options.get("connect_timeout", 5.0)),
            first_byte_timeout=float(options.get("first_byte_timeout", 60.0)),
            total_timeout=float(options.get("total_timeout", 600.0)),
            max_connections=int(options.get("max_connections", 256)),
            rerank_api=_rerank_api(spec),
            tls=_upstream_tls(spec),
        ),
    )


def _upstream_tls(spec: DeploymentSpec) -> ssl.SSLContext | bool:
    """``ca_bundle: /path/ca.pem`` trusts that CA (only) for this engine; ``tls_verify: false``
    turns verification off, loudly: a warning at every start, and never together with a bundle."""
    verify = spec.options.get("tls_verify", True)
    if not isinstance(verify, bool):
        raise EngineNotAvailable(f"deployment '{spec.name}': tls_verify must be true or false")
    ca_bundle = spec.options.get("ca_bundle")
    if ca_bundle is None:
        if not verify:
            _log.warning(
                "TLS certificate verification is OFF for this deployment (tls_verify: false)",
                extra={"deployment": spec.name},
            )
        return verify
    if not verify:
        raise EngineNotAvailable(
            f"deployment '{spec.name}': ca_bundle and tls_verify: false contradict each other"
        )
    try:
        return upstream_context(Path(str(ca_bundle)))
    except TlsError as error:
        raise EngineNotAvailable(f"deployment '{spec.name}': {error}") from None


def _rerank_api(spec: DeploymentSpec) -> RerankApi:
    """TEI answers rerank in its own shape; every other engine in Cohere's (vLLM's)."""
    value = str(spec.options.get("rerank_api", "tei" if spec.engine == "tei" else "cohere"))
    try:
        return RerankApi(value)
    except ValueError:
        known = ", ".join(str(api) for api in RerankApi)
        raise EngineNotAvailable(
            f"deployment '{spec.name}': unknown rerank_api '{value}' (known: {known})"
        ) from None


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
