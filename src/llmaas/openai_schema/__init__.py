"""Pydantic wire models of the OpenAI-compatible surface, one module per endpoint.

Names follow OpenAI's (``ChatCompletionRequest``, ``ChatCompletionChunk``). Requests allow unknown fields so
engine-specific extensions (vLLM's ``top_k``, ``chat_template_kwargs``...) reach remote engines; responses
mark the fields OpenAI omits when empty with ``omitted_if_none`` so required-but-nullable fields
(``content: null``) are sent while absent optional ones stay absent, as OpenAI does.
"""
