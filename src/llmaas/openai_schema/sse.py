"""Server-sent events framing, both ways.

Outbound we only ever send ``data:`` events; inbound (from remote engines) we must accept whatever a
conforming server sends: CRLF or LF line ends, comments, multi-line data, events split across reads.
"""

from __future__ import annotations

from collections.abc import Iterator

DONE = b"[DONE]"
DONE_EVENT = b"data: [DONE]\n\n"


def encode_event(data: bytes) -> bytes:
    """Frame one JSON payload as an SSE ``data:`` event (JSON never contains a raw newline)."""
    return b"data: " + data + b"\n\n"


class SseDecoder:
    """Incremental decoder: feed raw bytes as they arrive, get complete event payloads back."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._buffer += chunk
        while True:
            line, sep, rest = self._partition_line(self._buffer)
            if not sep:
                return
            self._buffer = rest
            event = self._take_line(line)
            if event is not None:
                yield event

    def flush(self) -> Iterator[bytes]:
        """At end of stream: a final event without its blank line still counts."""
        if self._buffer:
            # A last line may end with a lone CR that ``feed`` held back, waiting for a possible LF.
            event = self._take_line(self._buffer.removesuffix(b"\r"))
            self._buffer = b""
            if event is not None:
                yield event
        if self._data:
            yield b"\n".join(self._data)
            self._data = []

    @staticmethod
    def _partition_line(buffer: bytes) -> tuple[bytes, bytes, bytes]:
        newline = buffer.find(b"\n")
        carriage = buffer.find(b"\r")
        if carriage == -1 or (newline != -1 and newline < carriage):
            if newline == -1:
                return b"", b"", buffer
            return buffer[:newline], b"\n", buffer[newline + 1 :]
        if carriage + 1 == len(buffer):
            return b"", b"", buffer  # wait: a \n may follow in the next read
        end = carriage + 2 if buffer[carriage + 1] == 0x0A else carriage + 1
        return buffer[:carriage], b"\n", buffer[end:]

    def _take_line(self, line: bytes) -> bytes | None:
        if not line:
            if not self._data:
                return None
            event = b"\n".join(self._data)
            self._data = []
            return event
        if line.startswith(b":"):
            return None
        field, _, value = line.partition(b":")
        if field == b"data":
            self._data.append(value[1:] if value.startswith(b" ") else value)
        return None
