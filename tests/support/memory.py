"""A process's resident memory, sampled while it works: how much a request makes it grow."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class ResidentPeak:
    """``with ResidentPeak(pid) as peak: ...`` then ``peak.growth``: the highest resident size seen
    (every ``interval`` seconds) above the size when the block began."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.start = 0
        self.highest = 0

    @property
    def growth(self) -> int:
        return self.highest - self.start

    def __enter__(self) -> ResidentPeak:
        self.start = self.highest = resident_bytes(self._pid)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.highest = max(self.highest, resident_bytes(self._pid))

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.highest = max(self.highest, resident_bytes(self._pid))
