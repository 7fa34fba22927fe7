"""Request examples shown in the OpenAPI document (``/docs``)."""

from __future__ import annotations

from typing import Any

CHAT: dict[str, Any] = {
    "simple": {
        "summary": "A question",
        "value": {
            "model": "qwen2.5-coder:0.5b",
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": "Write a Python function that reverses a string."},
            ],
            "max_tokens": 200,
        },
    },
    "stream": {
        "summary": "Streaming, with usage in the last chunk",
        "value": {
            "model": "qwen2.5-coder:0.5b",
            "messages": [{"role": "user", "content": "Count from 1 to 5."}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    },
    "json": {
        "summary": "Structured output (JSON schema, enforced by a grammar)",
        "value": {
            "model": "qwen2.5-coder:0.5b",
            "messages": [{"role": "user", "content": "Give the capital of France as JSON."}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "capital",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "country": {"type": "string"},
                            "capital": {"type": "string"},
                        },
                        "required": ["country", "capital"],
                    },
                },
            },
        },
    },
    "tools": {
        "summary": "Tool calling",
        "value": {
            "model": "qwen2.5-coder:0.5b",
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Current weather for a city",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                            "required": ["city"],
                        },
                    },
                }
            ],
            "tool_choice": "auto",
        },
    },
}

COMPLETIONS: dict[str, Any] = {
    "simple": {
        "summary": "Continue a prompt",
        "value": {"model": "qwen2.5-coder:0.5b", "prompt": "def fibonacci(n):", "max_tokens": 64},
    }
}

EMBEDDINGS: dict[str, Any] = {
    "one": {
        "summary": "One text",
        "value": {"model": "all-minilm:22m", "input": "Sovereign AI for Europe"},
    },
    "batch": {
        "summary": "A batch, base64-encoded (what the SDKs ask for)",
        "value": {
            "model": "all-minilm:22m",
            "input": ["first passage", "second passage"],
            "encoding_format": "base64",
        },
    },
}

RERANK: dict[str, Any] = {
    "simple": {
        "summary": "Rank passages for a query, best three with their text",
        "value": {
            "model": "all-minilm:22m",
            "query": "What is the capital of France?",
            "documents": [
                "Paris is the capital and largest city of France.",
                "Berlin is the capital of Germany.",
                "The Eiffel Tower was completed in 1889.",
                "France is a country in Western Europe.",
            ],
            "top_n": 3,
            "return_documents": True,
        },
    }
}
