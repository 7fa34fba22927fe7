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
(``window_rows``), so training and serving agree. A text of one window (up to 48 tokens: most chat
messages) is scored by a plain sum instead, and the hash's tables of powers are kept from call to
call: on a short text the fixed cost of each numpy call is most of the time, so the fewer the better.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

HASHING = "polynomial-splitmix64-v1"
"""Names the feature hashing below: weights trained with another hashing would read noise."""

Buckets = npt.NDArray[np.int64]
Positions = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
_U64 = npt.NDArray[np.uint64]

_BASE = 0x100000001B3
"""The polynomial hash's base: odd, so it is invertible modulo 2**64 and substrings hash in O(1)."""
_BASE_INVERSE = pow(_BASE, -1, 2**64)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SHIFT_1, _SHIFT_2 = np.uint64(30), np.uint64(27)
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


class _Tables(NamedTuple):
    """The powers of the hash's base and of its inverse, and the positions 0, 1, 2...: every text
    hashes with a prefix of the same ones, so they are computed once and sliced, not per call."""

    powers: _U64
    unwind: _U64
    positions: Positions


class _Features(NamedTuple):
    """Every feature occurrence of a joined text: ``buckets`` holds the families (each character
    order, then each word order) end to end, ``sizes[k]`` occurrences for family ``k``, each family
    in the order of its first character (or token), which is what lets a window's occurrences of one
    family be found by arithmetic on ``spaces`` (the positions of the joined text's spaces)."""

    buckets: Buckets
    sizes: list[int]
    spaces: Positions


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
        salts = [*spec.char_orders, *(100 + n for n in spec.word_orders)]
        self._salts = np.asarray([(s * _FAMILY_SALT) % 2**64 for s in salts], np.uint64)
        families = len(spec.char_orders) + len(spec.word_orders)
        self._is_char = (np.arange(families) < len(spec.char_orders))[:, None]
        # How far back from a window's last space (character) or end token (word) the last
        # n-gram inside it starts: n - 2 characters (the space itself ends the window), n - 1 tokens.
        reach = [*(n - 2 for n in spec.char_orders), *(n - 1 for n in spec.word_orders)]
        self._reach = np.asarray([[0] * families, reach], np.int64)[:, :, None]
        firsts = np.arange(block_windows, dtype=np.int64) * spec.stride
        self._window_tokens = np.stack((firsts, firsts + spec.window_tokens))
        self._tables = _tables(1024)

    def joined(self, text: str) -> str:
        """The tokens of ``text`` joined by single spaces and padded with one at each end ("" when
        there is no token): the string whose n-grams are the features."""
        return _padded(self._token.findall(text))

    def window_rows(self, text: str) -> list[tuple[Buckets, float]]:
        """Each window's buckets (one entry per occurrence, repeats kept) and the value every
        occurrence takes (``1/sqrt(count)``): the rows the training script fits on."""
        rows: list[tuple[Buckets, float]] = []
        for joined in self._blocks(self._token.findall(text)):
            features = self._features(joined)
            low, high = self._runs(features)
            for window in range(low.shape[1]):
                runs = zip(low[:, window], high[:, window], strict=True)
                buckets = np.concatenate([features.buckets[a:b] for a, b in runs])
                rows.append((buckets, 1.0 / math.sqrt(max(1, buckets.size))))
        return rows

    def window_logits(self, text: str, weights: npt.NDArray[np.float32], bias: float) -> Floats:
        """The logit of every window of ``text``."""
        tokens = self._token.findall(text)
        if len(tokens) <= self.spec.window_tokens:
            return np.asarray([bias + self._one_window(tokens, weights)] if tokens else [], float)
        blocks = [self._block_logits(joined, weights) for joined in self._blocks(tokens)]
        result: Floats = bias + np.concatenate(blocks)
        return result

    def max_window_logit(self, text: str, weights: npt.NDArray[np.float32], bias: float) -> float:
        """The highest window logit of ``text``, minus infinity when it has no token: what the
        detector asks of every chat message, so a short one is answered without building arrays
        of windows."""
        tokens = self._token.findall(text)
        if len(tokens) <= self.spec.window_tokens:
            return bias + self._one_window(tokens, weights) if tokens else -math.inf
        blocks = (self._block_logits(joined, weights) for joined in self._blocks(tokens))
        best = max(float(np.maximum.reduce(logits)) for logits in blocks)
        return bias + best  # rounding is monotonic: the same as the highest of bias + logit

    def _one_window(self, tokens: Sequence[str], weights: npt.NDArray[np.float32]) -> float:
        """A text of one window holds every occurrence once: its logit (less the bias) is a plain
        sum, without the prefix sums and runs that telling windows apart takes. Most chat messages
        take this path, where the fixed cost of each numpy call is most of the time."""
        buckets = self._features(_padded(tokens)).buckets
        total = float(np.add.reduce(weights.take(buckets), dtype=np.float64))
        return total / math.sqrt(max(1, buckets.size))

    def _block_logits(self, joined: str, weights: npt.NDArray[np.float32]) -> Floats:
        """The logit (less the bias) of each window of a block, from prefix sums of the weights of
        its occurrences: each window's total is the sum of one run per family."""
        features = self._features(joined)
        sums = np.zeros(features.buckets.size + 1)
        np.add.accumulate(weights.take(features.buckets), dtype=np.float64, out=sums[1:])
        runs = self._runs(features)
        at_bounds = sums.take(runs)
        totals = np.add.reduce(at_bounds[1] - at_bounds[0], axis=0)
        counts = np.add.reduce(runs[1] - runs[0], axis=0)
        result: Floats = totals / np.sqrt(np.maximum(counts, 1))
        return result

    def _blocks(self, tokens: Sequence[str]) -> Iterator[str]:
        """The joined text of each run of ``block_windows`` consecutive windows, so that memory
        stays bounded on a megabyte-long input (every occurrence costs about fifty bytes while a
        block is scored). A block starts where its first window starts and ends where its last
        window ends, so cutting the text windows it exactly as a whole: each block's windows are the
        text's windows, in order."""
        size, stride = self.spec.window_tokens, self.spec.stride
        count = _window_count(len(tokens), size, stride)
        if 0 < count <= self._block_windows:  # the usual case, without slicing the tokens
            yield _padded(tokens)
            return
        for first in range(0, count, self._block_windows):
            last = min(first + self._block_windows, count) - 1
            yield _padded(tokens[first * stride : min(last * stride + size, len(tokens))])

    def _runs(self, features: _Features) -> Positions:
        """For each family and window, the run of occurrences inside the window, as indices into
        ``features.buckets``: the first (``[0, family, window]``) and one past the last (``[1]``).
        A window spans the characters from the space before its first token to the space after
        its last: a character n-gram is inside when it starts at or after the first and ends at or
        before the second; a word n-gram, by token numbers. Clamped to the family, so that a run
        too short for an n-gram is empty."""
        spaces = features.spaces
        count = _window_count(spaces.size - 1, self.spec.window_tokens, self.spec.stride)
        bounds = np.minimum(self._window_tokens[:, :count], spaces.size - 1)[:, None]
        runs = np.where(self._is_char, spaces.take(bounds), bounds) - self._reach
        edges = np.asarray([0, *accumulate(features.sizes)], np.int64)[:, None]
        runs += edges[:-1]
        np.minimum(runs[0], edges[1:], out=runs[0])
        np.maximum(runs[1], runs[0], out=runs[1])
        return runs

    def _features(self, joined: str) -> _Features:
        """Hash every occurrence of every family: the prefix difference weighs a span's code
        points by powers of the base from its first position, and ``unwind`` divides that
        position's power out, so equal substrings hash equally wherever they sit; each family has
        its own salt."""
        codes = self._codes(joined)
        size = codes.size
        tables = self._tables_for(size + 1)
        prefix = np.zeros(size + 1, np.uint64)
        np.add.accumulate(codes * tables.powers[:size], out=prefix[1:])
        spaces = (codes == _SPACE).nonzero()[0]
        first, last, sizes = self._spans(size, spaces, tables.positions)
        hashed = (prefix.take(last) - prefix.take(first)) * tables.unwind.take(first)
        hashed ^= self._salts.repeat(sizes)
        return _Features(self._finished(hashed), sizes, spaces)

    def _codes(self, joined: str) -> npt.NDArray[np.uint32]:
        """The code points, accents stripped: an ASCII text, most of them, has none to strip, and
        skips the three passes of the table look-up."""
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        if self._accents is None or joined.isascii():
            return codes
        stripped = self._accents.take(codes, mode="clip")
        return np.where(codes < self._accents.size, stripped, codes)

    def _spans(
        self, size: int, spaces: Positions, positions: Positions
    ) -> tuple[Positions, Positions, list[int]]:
        """The first and last position (exclusive) of every occurrence, families end to end (a
        family with no occurrence still takes its place, empty, so family numbers stay fixed)."""
        firsts: list[Positions] = []
        lasts: list[Positions] = []
        sizes: list[int] = []
        for n in self.spec.char_orders:
            count = max(0, size - n + 1)
            firsts.append(positions[:count])
            lasts.append(positions[n : n + count])
            sizes.append(count)
        token_starts, token_ends = spaces[:-1] + 1, spaces[1:]
        for n in self.spec.word_orders:
            count = max(0, token_starts.size - n + 1)
            firsts.append(token_starts[:count])
            lasts.append(token_ends[n - 1 : n - 1 + count])
            sizes.append(count)
        return np.concatenate(firsts), np.concatenate(lasts), sizes

    def _finished(self, hashed: _U64) -> Buckets:
        """The SplitMix64 finaliser, in place, then the top ``bits`` bits as the bucket. Its last
        step, ``x ^= x >> 31``, leaves the top 31 bits as they are, and a bucket is at most 24
        bits: skipped, it changes no bucket and saves two passes over every occurrence."""
        hashed ^= hashed >> _SHIFT_1
        hashed *= _MIX_1
        hashed ^= hashed >> _SHIFT_2
        hashed *= _MIX_2
        hashed >>= self._shift
        return hashed.view(np.int64)

    def _tables_for(self, size: int) -> _Tables:
        """Tables of at least ``size`` entries, grown (doubling) on a longer text than any before.
        Replaced whole, never changed in place, so a thread reading the old ones is unaffected."""
        tables = self._tables
        if tables.positions.size < size:
            tables = self._tables = _tables(max(size, 2 * tables.positions.size))
        return tables


def _tables(size: int) -> _Tables:
    """``size`` powers of the base and of its inverse (from the zeroth), and as many positions."""
    one = np.ones(1, np.uint64)
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(size - 1, _BASE, dtype=np.uint64), dtype=np.uint64)
        inverses = np.cumprod(np.full(size - 1, _BASE_INVERSE, dtype=np.uint64), dtype=np.uint64)
    return _Tables(
        powers=np.concatenate((one, powers)),
        unwind=np.concatenate((one, inverses)),
        positions=np.arange(size, dtype=np.int64),
    )


def _window_count(tokens: int, size: int, stride: int) -> int:
    """Windows start every ``stride`` tokens until one reaches the last token (none if no token)."""
    if tokens == 0:
        return 0
    return 1 if tokens <= size else -(-(tokens - size) // stride) + 1


def _padded(tokens: Sequence[str]) -> str:
    return f" {' '.join(tokens)} " if tokens else ""


def _accent_table() -> npt.NDArray[np.uint32]:
    """Every Latin letter up to Latin Extended-B mapped to its base letter (``é`` to ``e``), so that
    ``système`` shares the n-grams of ``system`` and unaccented spellings match accented ones."""
    table = np.arange(0x250, dtype=np.uint32)
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(code))[0]
        if base != chr(code) and base.isascii():
            table[code] = ord(base)
    return table
