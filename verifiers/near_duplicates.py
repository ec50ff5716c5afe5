"""Query normalisation and near-duplicate clustering (character shingles + MinHash LSH, in numpy).

Two functions the dedup verifier and dataset assembly share:

    >>> normalise_query("  Add NODE 1,  at (0, 0, 0)! ")
    'add node 1 at 0 0 0'
    >>> near_duplicate_clusters(["add node 1 at 0 0 0", "add node 1 at 0 0 0 please", "delete node 7"])
    [0, 0, 2]

Texts are compared by the Jaccard similarity of their character 3-gram sets (3-grams work for Korean,
where words carry particles, as well as for English). MinHash signatures with LSH banding find
candidate pairs without comparing every pair; each candidate is confirmed with the exact Jaccard of
the two shingle sets, and clusters are the connected components of confirmed pairs (a cluster id is
the index of its first member). 100,000 short texts take a few seconds on one core.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

SHINGLE = 3
_SIGNATURE = 128  # MinHash permutations; bands x rows are chosen per threshold from these
_NON_WORD = re.compile(r"[^\w.]+|(?<!\d)\.|\.(?!\d)|_")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# Politeness and urgency that open or close a request without changing it ("…rev2.mgb, thanks" is
# "…rev2.mgb"; "… now" is "…").
_POLITE_TAIL = re.compile(
    r"(?:\s+(?:thanks|thank you|thx|ty|please|pls|plz|cheers|thanks a lot|thank you very much|if you can"
    r"|now|right now|right away|asap|quickly"
    r"|감사합니다|감사해요|고마워|고마워요|고맙습니다|부탁해|부탁해요|부탁합니다|부탁드려요|부탁드립니다))+$"
)
_POLITE_HEAD = re.compile(r"^(?:(?:please|pls|kindly|hey|hi|hello|could you|can you|would you)\s+)+")


def normalise_query(text: str) -> str:
    """NFKC, case-folded, punctuation removed (decimal points kept), whitespace collapsed, and polite
    openings and closings ("please", "thanks", "부탁해요") dropped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # str.split() splits and strips on exactly the characters the regex \s matches (both use
    # Py_UNICODE_ISSPACE), in one pass instead of a second regex substitution and a strip.
    plain = " ".join(_NON_WORD.sub(" ", folded).split())
    trimmed = _POLITE_HEAD.sub("", _POLITE_TAIL.sub("", f" {plain}").lstrip())
    return trimmed or plain  # a query that is only "thanks" stays itself


def _shingle_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' 3-gram hashes in one uint64 array, plus each text's start offset into it.

    Vectorised: the texts' code points are concatenated once and every window hashed in a few numpy
    operations; windows that straddle two texts are dropped. A text shorter than a shingle is one
    shingle of itself.
    """
    encoded = [t.encode("utf-32-le") for t in texts]
    lengths = np.fromiter((len(e) // 4 for e in encoded), dtype=np.int64, count=len(encoded))
    points = np.frombuffer(b"".join(encoded), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0, np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(len(texts), dtype=np.uint64), np.arange(len(texts), dtype=np.int64)
    # Polynomial rolling hash over windows of SHINGLE code points (wrapping uint64 arithmetic).
    # In place: h = ((p0 * B + p1) * B + p2), the same wrapping values as a fresh array per step.
    with np.errstate(over="ignore"):
        size = max(total - SHINGLE + 1, 0)
        window = points[:size].copy()
        for k in range(1, SHINGLE):
            window *= np.uint64(1_000_003)
            window += points[k : k + size]
    owner = np.repeat(np.arange(len(texts)), lengths)
    valid = np.zeros(len(window), dtype=bool)
    if len(window):
        valid = owner[: len(window)] == owner[SHINGLE - 1 : SHINGLE - 1 + len(window)]
    hashes = window[valid]
    text_of = owner[: len(window)][valid]
    # Texts with no full window (shorter than SHINGLE): hash their whole code-point run.
    short = np.flatnonzero(lengths < SHINGLE)
    if len(short):
        extra = np.array(
            [_hash_points(points[starts[i] : starts[i] + lengths[i]]) for i in short], dtype=np.uint64
        )
        hashes = np.concatenate([hashes, extra])
        text_of = np.concatenate([text_of, short])
        # Only the short texts' hashes are out of place; a stable sort keeps each text's own order.
        order = np.argsort(text_of, kind="stable")
        hashes, text_of = hashes[order], text_of[order]
    offsets = np.searchsorted(text_of, np.arange(len(texts) + 1))
    return _mix(hashes), offsets


def _hash_points(points: np.ndarray) -> int:
    value = 0x9E3779B97F4A7C15
    for p in points.tolist():
        value = (value * 1_000_003 + p + 1) & 0xFFFFFFFFFFFFFFFF
    return value


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads rolling-hash values over all 64 bits."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))  # a new array: the caller's stays as it was
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
        return x


def _bands_for(threshold: float) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= 128 that miss a pair at ``threshold`` under 1% of the time,
    preferring the fewest candidates well below it."""
    best: tuple[float, int, int] | None = None
    for rows in range(1, 33):
        bands = _SIGNATURE // rows
        miss = (1 - threshold**rows) ** bands
        if miss > 0.01:
            continue
        noise = 1 - (1 - (threshold - 0.2) ** rows) ** bands  # candidate rate at threshold - 0.2
        if best is None or noise < best[0]:
            best = (noise, bands, rows)
    return (best[1], best[2]) if best else (_SIGNATURE, 1)


def _signatures(hashes: np.ndarray, offsets: np.ndarray, count: int) -> np.ndarray:
    """MinHash signatures (count x texts) from multiply-shift hash permutations of the shingles."""
    rng = np.random.default_rng(20240601)  # fixed: cluster ids must not change between runs
    a = rng.integers(1, 2**63, size=count, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=count, dtype=np.uint64)
    starts = offsets[:-1]
    out = np.empty((count, len(starts)), dtype=np.uint64)
    # One scratch buffer for every permutation: allocating two shingle-sized arrays per permutation
    # cost more than the arithmetic (same wrapping uint64 values either way).
    permuted = np.empty_like(hashes)
    with np.errstate(over="ignore"):
        for k in range(count):
            np.multiply(hashes, a[k], out=permuted)
            permuted += b[k]
            np.minimum.reduceat(permuted, starts, out=out[k])
    return out


def _jaccard(x: np.ndarray, y: np.ndarray) -> float:
    inter = len(np.intersect1d(x, y, assume_unique=True))
    return inter / (len(x) + len(y) - inter) if (len(x) + len(y)) else 1.0


def _candidate_pairs(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, 2) array of index pairs that share a band bucket, found without a Python loop per bucket.

    Within a bucket (equal band keys, adjacent after sorting) each member is paired with the few
    before it: union-find chains still join a big bucket, and a bucket of thousands of texts never
    costs quadratic time.
    """
    pairs: list[np.ndarray] = []
    for band in range(bands):
        block = np.ascontiguousarray(sig[band * rows : (band + 1) * rows].T)
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        for lag in range(1, 5):
            same = ordered[lag:] == ordered[:-lag]
            if not same.any():
                break
            pairs.append(np.stack([order[:-lag][same], order[lag:][same]], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    found = np.concatenate(pairs)
    return np.unique(np.sort(found, axis=1), axis=0)


def near_duplicate_clusters(texts: Sequence[str], *, threshold: float = 0.9) -> list[int]:
    """A cluster id per text: texts whose normalised 3-gram Jaccard similarity reaches ``threshold``
    (directly or through a chain of such texts) share the id, which is the index of the cluster's
    first text. Identical normalised texts always share one.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    normal = [normalise_query(t) for t in texts]
    first: dict[str, int] = {}
    rep = [first.setdefault(t, i) for i, t in enumerate(normal)]  # exact duplicates collapse first
    uniq = sorted(first.values())
    parent = {i: i for i in uniq}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(uniq) > 1 and threshold < 1.0:
        hashes, offsets = _shingle_hashes([normal[i] for i in uniq])
        bands, rows = _bands_for(threshold)
        sig = _signatures(hashes, offsets, bands * rows)
        pairs = _candidate_pairs(sig, bands, rows)
        # The signature agreement estimates Jaccard (sd ~0.04 at 128 rows); only pairs that could
        # plausibly reach the threshold get the exact check.
        estimate = (sig[:, pairs[:, 0]] == sig[:, pairs[:, 1]]).mean(axis=0) if len(pairs) else np.zeros(0)
        for x, y in pairs[estimate >= threshold - 0.15].tolist():
            rx, ry = root(uniq[x]), root(uniq[y])
            if rx == ry:
                continue
            sx = np.unique(hashes[offsets[x] : offsets[x + 1]])
            sy = np.unique(hashes[offsets[y] : offsets[y + 1]])
            if _jaccard(sx, sy) >= threshold:
                parent[max(rx, ry)] = min(rx, ry)
    return [root(rep[i]) for i in range(len(texts))]
