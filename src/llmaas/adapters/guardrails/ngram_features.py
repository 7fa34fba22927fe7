"""The features of the n-gram prompt-injection detector: tokens, hashed n-grams, windows.

Apart from the detector (``ngram.py``) because the weights are meaningless without exactly this
featurisation, and the training script uses it directly: this module is what must not change under
trained weights (``HASHING`` names it; the unit tests pin its output).

The text is cut into tokens (word pieces and punctuation runs), joined by single spaces and padded
with one space at each end; its features are every character n-gram of the configured orders (across
word boundaries, so "ignore all" yields n-grams of the phrase) and every word n-gram. Each one is
hashed (a polynomial hash over code points, finished by the SplitMix64 mixer) into ``2**bits``
buckets. A window's logit is ``bias + sum(weights[bucket]) / sqrt(count)``: the square root keeps the
scale of a three-word question and a 48-token window comparable.

Windows are scored 64 at a time from prefix sums over their span of text: the features of a window
are exactly those of the window's own text scored alone, which is what training sees
(``window_rows``), so training and serving agree.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HASHING = "polynomial-splitmix64-v1"
"""Names the feature hashing below: weights trained with another hashing would read noise."""

Buckets = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
_U64 = npt.NDArray[np.uint64]

_BASE = 0x100000001B3
"""The polynomial hash's base: odd, so it is invertible modulo 2**64 and substrings hash in O(1)."""
_BASE_INVERSE = pow(_BASE, -1, 2**64)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_FAMILY_SALT = 0x9E3779B97F4A7C15
_SPACE = 32

BLOCK_WINDOWS = 64
"""Windows scored together: about 1,500 tokens, a few megabytes of working memory."""


@dataclass(frozen=True, slots=True)
class NgramSpec:
    """Which features a text has and how it is cut into windows; saved with the weights, since
    weights are meaningless under another spec. The defaults are what the training script chose.

    ``char_orders``: the character n-gram lengths; ``word_orders``: the word n-gram lengths (empty
    for none); ``bits``: ``2**bits`` hash buckets; ``window_tokens`` tokens per window, the next
    starting ``stride`` tokens later; ``max_token_chars``: longer words are cut into pieces this long
    (URLs, base64, unspaced scripts); ``decoded_views``: also score ``normalise``'s decoded readings;
    ``strip_accents``: read Latin letters without their accents, so that ``système`` shares the
    n-grams of ``system``: most injections in the corpus are English, and this is how what they
    teach carries over to French, Spanish or German spellings.
    """

    char_orders: tuple[int, ...] = (3, 4, 5)
    word_orders: tuple[int, ...] = (1, 2)
    bits: int = 18
    window_tokens: int = 48
    stride: int = 24
    max_token_chars: int = 24
    decoded_views: bool = True
    strip_accents: bool = True

    def __post_init__(self) -> None:
        if not self.char_orders and not self.word_orders:
            raise ValueError("an n-gram spec needs at least one feature order")
        if any(not 1 <= n <= 16 for n in (*self.char_orders, *self.word_orders)):
            raise ValueError("n-gram orders must be between 1 and 16")
        if not 10 <= self.bits <= 24:
            raise ValueError("bits must be between 10 and 24")
        if not 0 < self.stride <= self.window_tokens:
            raise ValueError("stride must be between 1 and the window size")
        if not 1 <= self.max_token_chars <= 256:
            raise ValueError("max_token_chars must be between 1 and 256")

    @property
    def dimensions(self) -> int:
        return 1 << self.bits


@dataclass(frozen=True, slots=True)
class _Occurrences:
    """Every feature occurrence of a text: occurrence ``i`` spans ``starts[i]`` to ``ends[i]`` and
    hashes to ``buckets[i]``.

    The families (each character order, each word order) are laid end to end, family ``k`` shifted
    by ``k * offset`` characters. Within a family both offsets grow with ``i`` and the shift keeps the
    families apart, so both arrays are sorted and the occurrences of one family inside a window
    form one contiguous run, found by binary search.
    """

    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    buckets: Buckets
    families: int
    offset: int


@dataclass(frozen=True, slots=True)
class _Windows:
    """The character span of each window of a joined text (the window text is ``joined[a:b]``)."""

    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]


class Featuriser:
    """Turns a (normalised) text into hashed n-gram occurrences and windows, per a :class:`NgramSpec`."""

    def __init__(self, spec: NgramSpec, block_windows: int = BLOCK_WINDOWS) -> None:
        if block_windows < 1:
            raise ValueError("a block holds at least one window")
        self.spec = spec
        self._token = re.compile(rf"\w{{1,{spec.max_token_chars}}}|[^\w\s]{{1,8}}")
        self._shift = np.uint64(64 - spec.bits)
        self._accents = _accent_table() if spec.strip_accents else None
        self._block_windows = block_windows

    def joined(self, text: str) -> str:
        """The tokens of ``text`` joined by single spaces and padded with one at each end ("" when
        there is no token): the string whose n-grams are the features."""
        return _padded(self._token.findall(text))

    def window_rows(self, text: str) -> list[tuple[Buckets, float]]:
        """Each window's buckets (one entry per occurrence, repeats kept) and the value every
        occurrence takes (``1/sqrt(count)``): the rows the training script fits on."""
        rows: list[tuple[Buckets, float]] = []
        for joined in self._blocks(text):
            occurrences, windows = self._analyse(joined)
            low, high = self._runs(occurrences, windows)
            for window in range(windows.starts.size):
                runs = zip(low[:, window], high[:, window], strict=True)
                buckets = np.concatenate([occurrences.buckets[a:b] for a, b in runs])
                rows.append((buckets, 1.0 / math.sqrt(max(1, buckets.size))))
        return rows

    def window_logits(self, text: str, weights: npt.NDArray[np.float32], bias: float) -> Floats:
        """The logit of every window of ``text``, from prefix sums over each block of windows."""
        blocks = [self._block_logits(joined, weights) for joined in self._blocks(text)]
        result: Floats = bias + np.concatenate(blocks) if blocks else np.empty(0)
        return result

    def _block_logits(self, joined: str, weights: npt.NDArray[np.float32]) -> Floats:
        occurrences, windows = self._analyse(joined)
        sums = np.zeros(occurrences.buckets.size + 1)
        np.cumsum(weights[occurrences.buckets], dtype=np.float64, out=sums[1:])
        low, high = self._runs(occurrences, windows)
        totals = (sums[high] - sums[low]).sum(axis=0)
        counts = (high - low).sum(axis=0)
        result: Floats = totals / np.sqrt(np.maximum(counts, 1))
        return result

    def _blocks(self, text: str) -> Iterator[str]:
        """The joined text of each run of ``block_windows`` consecutive windows, so that memory
        stays bounded on a megabyte-long input (every occurrence costs about fifty bytes while a
        block is scored). A block starts where its first window starts and ends where its last
        window ends, so cutting the text windows it exactly as a whole: each block's windows are the
        text's windows, in order."""
        tokens = self._token.findall(text)
        size, stride = self.spec.window_tokens, self.spec.stride
        count = _window_count(len(tokens), size, stride)
        for first in range(0, count, self._block_windows):
            last = min(first + self._block_windows, count) - 1
            yield _padded(tokens[first * stride : min(last * stride + size, len(tokens))])

    def _runs(
        self, occurrences: _Occurrences, windows: _Windows
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """For each family (rows) and window (columns), the run of occurrences inside the window."""
        shifts = np.arange(occurrences.families, dtype=np.int64)[:, None] * occurrences.offset
        low = np.searchsorted(occurrences.starts, windows.starts + shifts)
        high = np.searchsorted(occurrences.ends, windows.ends + shifts, side="right")
        return low.astype(np.int64), high.astype(np.int64)

    def _analyse(self, joined: str) -> tuple[_Occurrences, _Windows]:
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        if self._accents is not None:
            latin = codes < self._accents.size
            codes = np.where(latin, self._accents[np.where(latin, codes, 0)], codes)
        spaces = np.flatnonzero(codes == _SPACE).astype(np.int64)
        starts, ends, salts = self._spans(codes.size, spaces)
        offset = codes.size + 1
        buckets = self._hash(codes, starts, ends, salts)
        shifts = np.repeat(np.arange(len(salts), dtype=np.int64) * offset, [s.size for s in starts])
        occurrences = _Occurrences(
            starts=np.concatenate(starts) + shifts,
            ends=np.concatenate(ends) + shifts,
            buckets=buckets,
            families=len(salts),
            offset=offset,
        )
        return occurrences, self._windows(spaces)

    def _spans(
        self, size: int, spaces: npt.NDArray[np.int64]
    ) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.int64]], list[int]]:
        """The spans of every family, in order: character n-grams, then word n-grams (a family
        with no occurrence still takes its place, empty, so family numbers stay fixed)."""
        starts: list[npt.NDArray[np.int64]] = []
        ends: list[npt.NDArray[np.int64]] = []
        for n in self.spec.char_orders:
            first = np.arange(max(0, size - n + 1), dtype=np.int64)
            starts.append(first)
            ends.append(first + n)
        token_starts, token_ends = spaces[:-1] + 1, spaces[1:]
        for n in self.spec.word_orders:
            count = max(0, token_starts.size - n + 1)
            starts.append(token_starts[:count])
            ends.append(token_ends[n - 1 : n - 1 + count])
        salts = [*self.spec.char_orders, *(100 + n for n in self.spec.word_orders)]
        return starts, ends, salts

    def _hash(
        self,
        codes: _U64,
        starts: list[npt.NDArray[np.int64]],
        ends: list[npt.NDArray[np.int64]],
        salts: list[int],
    ) -> Buckets:
        """Hash every span ``[start, end)``: the prefix difference weighs a span's code points by
        powers of the base from its first position, and ``unwind`` divides that position's power
        out, so equal substrings hash equally wherever they sit; each family has its own salt."""
        size = codes.size
        first, last = np.concatenate(starts), np.concatenate(ends)
        family_salts = np.asarray([(salt * _FAMILY_SALT) % 2**64 for salt in salts], np.uint64)
        with np.errstate(over="ignore"):
            powers = np.cumprod(np.full(size, _BASE, dtype=np.uint64), dtype=np.uint64)
            prefix = np.zeros(size + 1, dtype=np.uint64)
            np.cumsum(codes * np.concatenate(([np.uint64(1)], powers[:-1])), out=prefix[1:])
            inverses = np.cumprod(np.full(size, _BASE_INVERSE, dtype=np.uint64), dtype=np.uint64)
            unwind = np.concatenate(([np.uint64(1)], inverses))
            hashed = (prefix[last] - prefix[first]) * unwind[first]
            hashed ^= np.repeat(family_salts, [s.size for s in starts])
            hashed ^= hashed >> np.uint64(30)
            hashed *= _MIX_1
            hashed ^= hashed >> np.uint64(27)
            hashed *= _MIX_2
            hashed ^= hashed >> np.uint64(31)
        return (hashed >> self._shift).astype(np.int64)

    def _windows(self, spaces: npt.NDArray[np.int64]) -> _Windows:
        """Token windows as character spans, each from the space before its first token to the
        space after its last (so a window's text is padded exactly as a short text is)."""
        tokens = spaces.size - 1
        size, stride = self.spec.window_tokens, self.spec.stride
        first = np.arange(_window_count(tokens, size, stride), dtype=np.int64) * stride
        last = np.minimum(first + size, tokens)
        return _Windows(spaces[first], spaces[last] + 1)


def _window_count(tokens: int, size: int, stride: int) -> int:
    """Windows start every ``stride`` tokens until one reaches the last token (none if no token)."""
    if tokens == 0:
        return 0
    return 1 if tokens <= size else -(-(tokens - size) // stride) + 1


def _padded(tokens: Sequence[str]) -> str:
    return f" {' '.join(tokens)} " if tokens else ""


def _accent_table() -> _U64:
    """Every Latin letter up to Latin Extended-B mapped to its base letter (``é`` to ``e``), so that
    ``système`` shares the n-grams of ``system`` and unaccented spellings match accented ones."""
    table = np.arange(0x250, dtype=np.uint64)
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(code))[0]
        if base != chr(code) and base.isascii():
            table[code] = ord(base)
    return table
