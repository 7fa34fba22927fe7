"""An uploaded recording stays in memory: Starlette's default parser writes a file part over 1 MB to
a temporary file on disk, which the zero-retention promise forbids for customer content."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import Request

from llmaas.api.openai.audio import read_multipart
from llmaas.domain.errors import InvalidRequest

BOUNDARY = "llmaas-test-boundary"
RECORDING = b"\x01\x02" * (3 * 1024 * 1024 // 2)  # 3 MB: three times Starlette's spool size


def multipart_body(payload: bytes) -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="model"\r\n\r\nwhisper:base\r\n'
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def request_of(body: bytes, content_type: str) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/audio/transcriptions",
        "headers": [(b"content-type", content_type.encode())],
    }
    return Request(scope, receive)


async def _stream(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def test_the_file_is_never_spooled_to_disk() -> None:
    body = multipart_body(RECORDING)
    form = await read_multipart(request_of(body, f"multipart/form-data; boundary={BOUNDARY}"))
    try:
        upload = form["file"]
        assert isinstance(upload, UploadFile)
        assert upload.file._rolled is False  # type: ignore[attr-defined]
        assert await upload.read() == RECORDING
        assert form["model"] == "whisper:base"
    finally:
        await form.close()
    # What the test guards against: Starlette's own parser rolls the same file over to disk.
    headers = Headers({"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
    default = await MultiPartParser(headers, _stream(body)).parse()
    try:
        spooled = default["file"]
        assert isinstance(spooled, UploadFile)
        assert spooled.file._rolled is True  # type: ignore[attr-defined]
    finally:
        await default.close()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"model": "whisper:base"}', "application/json"),
        (b"model=whisper%3Abase", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data"),  # no boundary parameter
    ],
)
async def test_a_body_that_is_not_a_multipart_form_is_a_400(body: bytes, content_type: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await read_multipart(request_of(body, content_type))
    assert refused.value.param == "file"
