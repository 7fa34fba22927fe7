"""``POST /v1/audio/transcriptions`` and ``POST /v1/audio/translations`` (multipart forms).

The form is read by Starlette's parser, told never to spool the file to disk: a recording is customer
content, which lives in memory for the time of the request only (the body-size limit bounds it). Only
the file's bytes (bounded by ``max_audio_bytes``) are handed on. Text fields are validated by the same
pydantic model whatever the transport, and a field sent twice (``timestamp_granularities[]``) is a list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import Response

from llmaas.api.dependencies import Authenticated, Caller
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.response_headers import response_headers
from llmaas.api.responses import json_response, sse_response
from llmaas.domain.errors import InvalidRequest, PayloadTooLarge
from llmaas.domain.transcripts import SpeechTask
from llmaas.openai_schema.audio import Transcription, TranscriptionRequest, TranscriptionVerbose
from llmaas.openai_schema.base import WireObject
from llmaas.services.transcriptions import SpeechRequest

PATH_PREFIX = "/v1/audio/"
FORM_OVERHEAD = 64 * 1024
"""Room for the form's text fields and part headers on top of the file itself."""
_LISTS = {"timestamp_granularities"}

router = APIRouter(tags=["Audio"])


def body_limit(max_audio_bytes: int) -> int:
    return max_audio_bytes + FORM_OVERHEAD


def _form_body(summary: str) -> dict[str, Any]:
    fields = {
        "file": {"type": "string", "format": "binary"},
        "model": {"type": "string", "example": "whisper:base"},
        "language": {"type": "string", "example": "fr"},
        "prompt": {"type": "string"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "response_format": {
            "type": "string",
            "enum": ["json", "text", "srt", "verbose_json", "vtt"],
        },
        "timestamp_granularities[]": {
            "type": "array",
            "items": {"type": "string", "enum": ["word", "segment"]},
        },
        "stream": {"type": "boolean"},
    }
    return {
        "requestBody": {
            "required": True,
            "description": summary,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "model"],
                        "properties": fields,
                    }
                }
            },
        }
    }


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Transcription | TranscriptionVerbose,
        "description": "`json` and `verbose_json` as JSON; `text`, `srt` and `vtt` as text/plain; "
        "with `stream=true`, server-sent `transcript.text.delta` events, then one "
        "`transcript.text.done`.",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "text/event-stream": {"schema": {"type": "string"}},
        },
    },
    **ERRORS,
}


@router.post(
    "/audio/transcriptions",
    response_model=None,
    responses=_RESPONSES,
    openapi_extra=_form_body("The audio file (flac, m4a, mp3, ogg, wav, webm; 25 MB at most)."),
    summary="Transcribe audio",
    description="Billed per started minute of audio (`usage.seconds` says how much was heard).",
)
async def create_transcription(http: Request, caller: Authenticated) -> Response:
    return await _speech(http, caller, SpeechTask.TRANSCRIBE)


@router.post(
    "/audio/translations",
    response_model=None,
    responses=_RESPONSES,
    openapi_extra=_form_body("The audio file, in any language Whisper knows; the text is English."),
    summary="Translate audio into English",
)
async def create_translation(http: Request, caller: Authenticated) -> Response:
    return await _speech(http, caller, SpeechTask.TRANSLATE)


async def _speech(http: Request, caller: Caller, task: SpeechTask) -> Response:
    request = await _read_form(http, task)
    caller.ctx.body_bytes = len(request.audio)
    service = caller.services.transcriptions
    if request.fields.stream:
        events = await service.transcribe_stream(caller.ctx, request)
        return sse_response(events, caller.ctx.request_id, response_headers(caller.ctx))
    rendered = await service.transcribe(caller.ctx, request)
    headers = response_headers(caller.ctx)
    if isinstance(rendered, WireObject):
        return json_response(rendered, headers)
    return Response(rendered, media_type="text/plain; charset=utf-8", headers=headers)


class InMemoryMultiPartParser(MultiPartParser):
    """Starlette's parser with files kept in memory: ``0`` means a spool that never rolls to disk."""

    spool_max_size = 0


async def read_multipart(http: Request) -> FormData:
    """The form, its file in memory; a body that is not a well-formed multipart form is a 400."""
    if not http.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("The request body must be a multipart/form-data form.", param="file")
    parser = InMemoryMultiPartParser(http.headers, http.stream(), max_files=1, max_fields=32)
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise InvalidRequest(f"The form could not be read: {error.message}", param="file") from None


async def _read_form(http: Request, task: SpeechTask) -> SpeechRequest:
    limit: int = http.app.state.max_audio_bytes
    form = await read_multipart(http)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("The form needs an audio 'file' part.", param="file")
        if upload.size is not None and upload.size > limit:
            raise PayloadTooLarge(f"The audio file is larger than the limit of {limit} bytes.")
        audio = await upload.read(limit + 1)
        if len(audio) > limit:
            raise PayloadTooLarge(f"The audio file is larger than the limit of {limit} bytes.")
        fields = _fields(form)
    finally:
        await form.close()
    try:
        return SpeechRequest(TranscriptionRequest.model_validate(fields), audio, task)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


def _fields(form: FormData) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for raw_key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        key = raw_key.removesuffix("[]")
        if key in _LISTS:
            fields.setdefault(key, []).append(value)
        else:
            fields[key] = value
    return fields
