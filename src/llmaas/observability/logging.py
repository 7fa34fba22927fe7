"""Structured logging.

Log records carry metadata passed in ``extra`` (ids, counts, latencies); request and response bodies are
never handed to a logger anywhere in llmaas, and exception messages are not rendered (they can quote
input): failures are logged as exception type plus the code location.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from types import TracebackType
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def _where(exc_info: tuple[type[BaseException], BaseException, TracebackType | None]) -> str:
    frames = traceback.extract_tb(exc_info[2])[-3:]
    return " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in reversed(frames)
    )


def failure(error: BaseException) -> dict[str, str]:
    """Log fields for a failure: its type and where it happened, never its message.

    Pass these as ``extra`` instead of ``exc_info``, so no handler (a test's, a library's) can render
    the message, which may quote a prompt.
    """
    return {
        "error": type(error).__name__,
        "where": _where((type(error), error, error.__traceback__)),
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            payload["error"] = exc_type.__name__
            if exc is not None:
                payload["where"] = _where((exc_type, exc, tb))
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = (
            f"{record.levelname.lower():7} {record.name}: {record.getMessage()} {extras}".rstrip()
        )
        if record.exc_info and record.exc_info[0] is not None and record.exc_info[1] is not None:
            exc_type, exc, tb = record.exc_info
            line += f" error={exc_type.__name__} where={_where((exc_type, exc, tb))}"
        return line


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log would duplicate ours (and log query strings); its error log is kept.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
