"""The server secret that keys API-key hashes: generated once, kept in a file only this user can read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from llmaas.domain.secrets import Secret


def load_or_create(path: Path) -> Secret:
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if len(value) < 32:
            raise RuntimeError(f"the server secret in {path} is too short (32 characters at least)")
        return Secret(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once cannot both write (and disagree on) the secret.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return Secret(value)
