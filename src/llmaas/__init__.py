"""llmaas: a sovereign, self-hostable LLM-as-a-Service gateway with an OpenAI-compatible API."""

__version__ = "0.1.0"
