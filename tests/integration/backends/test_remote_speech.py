"""A remote speech engine over a real socket: the OpenAI multipart form goes out, ``verbose_json``
comes back and is relayed as the embedded engine's events; upstream errors map to domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from llmaas.adapters.backends.openai_compatible import OpenAICompatibleBackend, RemoteOptions
from llmaas.domain.errors import InvalidRequest
from llmaas.domain.transcripts import AudioInfo, Segment, SpeechJob, SpeechTask

ANSWER = {
    "task": "transcribe",
    "language": "english",
    "duration": 2.5,
    "text": "Hello there.",
    "segments": [{"id": 0, "start": 0.0, "end": 2.5, "text": " Hello there.", "tokens": [1, 2]}],
    "words": [
        {"word": "Hello", "start": 0.1, "end": 0.6},
        {"word": "there.", "start": 0.7, "end": 1.2},
    ],
}


@pytest.fixture
async def engine() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def speech(request: web.Request) -> web.Response:
        form = await request.post()
        fields: dict[str, Any] = {"path": request.path}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                fields.setdefault(key, []).append(value.file.read())
            else:
                fields.setdefault(key, []).append(value)
        seen.append(fields)
        if fields["file"][0] == b"broken":
            return web.json_response(
                {"error": {"message": "bad audio", "type": "invalid_request_error"}}, status=400
            )
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", speech)
    app.router.add_post("/v1/audio/translations", speech)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1", seen
    finally:
        await runner.cleanup()


async def test_segments_and_words_come_back_as_events(
    engine: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = engine
    backend = OpenAICompatibleBackend("remote", RemoteOptions(base_url=url, upstream_model="w-1"))
    await backend.start()
    try:
        job = SpeechJob(b"RIFF", model="whisper:base", language="en", word_timestamps=True)
        events = [event async for event in backend.transcribe(job)]
        translated = [
            e async for e in backend.transcribe(SpeechJob(b"x", task=SpeechTask.TRANSLATE))
        ]
        with pytest.raises(InvalidRequest):
            _ = [e async for e in backend.transcribe(SpeechJob(b"broken"))]
    finally:
        await backend.close()
    assert events[0] == AudioInfo(duration_ms=2500, language="english")
    segment = events[1]
    assert isinstance(segment, Segment) and segment.text == " Hello there."
    assert [w.text for w in segment.words] == [" Hello", " there."]
    assert seen[0]["model"] == ["w-1"] and seen[0]["language"] == ["en"]
    assert seen[0]["response_format"] == ["verbose_json"]
    assert seen[0]["timestamp_granularities[]"] == ["segment", "word"]
    assert seen[0]["file"] == [b"RIFF"]
    assert seen[1]["path"] == "/v1/audio/translations" and "language" not in seen[1]
    assert len(translated) == 2
