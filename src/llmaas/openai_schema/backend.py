"""What served a response: our extension to OpenAI's objects, so operators and clients can tell."""

from __future__ import annotations

from llmaas.openai_schema.base import WireObject


class BackendInfo(WireObject):
    engine_type: str
    """The engine kind (``vllm``, ``llama_cpp``...)."""
    machine_name: str
