"""Turning wire objects into HTTP responses: JSON bodies, and SSE streams that end with ``[DONE]``.

An error after the stream has started cannot change the status code any more; it is sent as an
OpenAI-style ``{"error": ...}`` event (what the official SDKs raise from), then the stream ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from starlette.responses import Response

from llmaas.api.errors import domain_error_json, error_json
from llmaas.api.event_stream import EventStreamResponse
from llmaas.domain.errors import LlmaasError
from llmaas.observability.logging import failure
from llmaas.openai_schema.base import WireObject
from llmaas.openai_schema.sse import DONE_EVENT, encode_event

_log = logging.getLogger("llmaas.errors")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def json_response(body: WireObject, headers: dict[str, str] | None = None) -> Response:
    return Response(body.to_json(), media_type="application/json", headers=headers)


def sse_response(
    chunks: AsyncIterator[WireObject], request_id: str, headers: dict[str, str] | None = None
) -> EventStreamResponse:
    return EventStreamResponse(
        _events(chunks, request_id), headers={**_SSE_HEADERS, **(headers or {})}
    )


async def _events(chunks: AsyncIterator[WireObject], request_id: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield encode_event(chunk.to_json())
    except LlmaasError as error:
        _log.warning(
            "stream failed", extra={"request_id": request_id, "error": type(error).__name__}
        )
        yield encode_event(domain_error_json(error))
        return
    except Exception as error:  # noqa: BLE001 - the status line is sent; report in-band instead
        _log.error("stream failed", extra={"request_id": request_id, **failure(error)})
        yield encode_event(
            error_json(
                f"The server had an error while streaming (request id {request_id}).",
                "server_error",
                code="internal_error",
            )
        )
        return
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    yield DONE_EVENT
