"""Small, exact-by-construction indicators on bars (pure functions, floats)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from titan_scavenger.core.market import Bar


def atr(bars: Sequence[Bar], period: int = 14) -> float | None:
    """Average true range of the last `period` bars; None with too little history."""
    if len(bars) < period + 1:
        return None
    ranges = []
    for prev, bar in zip(bars[-period - 1 : -1], bars[-period:], strict=True):
        ranges.append(max(bar.high - bar.low, abs(bar.high - prev.close), abs(bar.low - prev.close)))
    return sum(ranges) / period


@dataclass(frozen=True)
class Bands:
    middle: float
    upper: float
    lower: float

    @property
    def bandwidth(self) -> float:
        return (self.upper - self.lower) / self.middle if self.middle else 0.0


def bollinger(closes: Sequence[float], period: int = 20, k: float = 2.0) -> Bands | None:
    """Bands over the last `period` closes (population standard deviation)."""
    if len(closes) < period:
        return None
    window = closes[-period:]
    mean = sum(window) / period
    std = math.sqrt(sum((c - mean) ** 2 for c in window) / period)
    return Bands(mean, mean + k * std, mean - k * std)


def bandwidths(closes: Sequence[float], period: int = 20, k: float = 2.0) -> list[float]:
    """The bandwidth at every close that has a full window behind it, oldest first."""
    return [_bandwidth(tuple(closes[end - period : end]), k) for end in range(period, len(closes) + 1)]


@functools.lru_cache(maxsize=8192)
def _bandwidth(window: tuple[float, ...], k: float) -> float:
    """One window's bandwidth, computed as `bollinger` computes it. Remembered: a map
    rebuilt every minute sees the same closed bars again, and only the open bar's windows
    are new (a pure function of its arguments, so the answer is the same either way)."""
    bands = bollinger(window, len(window), k)
    assert bands is not None
    return bands.bandwidth


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile with linear interpolation (q in [0, 1]); values must not be empty."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class VolumeProfile:
    low: float  # the price where bin 0 starts
    bin_width: float
    volumes: tuple[float, ...]

    def centre(self, index: int) -> float:
        return self.low + (index + 0.5) * self.bin_width


def volume_profile(bars: Sequence[Bar], bins: int) -> VolumeProfile | None:
    """Volume by price: each bar's volume spread evenly over the bins its high-low range covers."""
    if not bars or bins < 3:
        return None
    low = min(b.low for b in bars)
    high = max(b.high for b in bars)
    if high <= low:
        return None
    width = (high - low) / bins
    volumes = [0.0] * bins
    for bar in bars:
        first = min(bins - 1, int((bar.low - low) / width))
        last = min(bins - 1, int((bar.high - low) / width))
        share = bar.volume / (last - first + 1)
        for i in range(first, last + 1):
            volumes[i] += share
    return VolumeProfile(low, width, tuple(volumes))


def profile_peaks(profile: VolumeProfile, min_ratio: float) -> list[int]:
    """High-volume nodes: local maxima at least `min_ratio` times the mean bin volume."""
    volumes = profile.volumes
    mean = sum(volumes) / len(volumes)
    peaks = []
    for i, volume in enumerate(volumes):
        left = volumes[i - 1] if i > 0 else -1.0
        right = volumes[i + 1] if i + 1 < len(volumes) else -1.0
        if volume > left and volume >= right and volume >= min_ratio * mean:
            peaks.append(i)
    return peaks


def swing_lows(bars: Sequence[Bar], k: int = 2) -> list[tuple[int, float]]:
    """(index, low) of bars whose low is strictly below the k bars on each side."""
    out = []
    for i in range(k, len(bars) - k):
        low = bars[i].low
        if all(bars[j].low > low for j in range(i - k, i + k + 1) if j != i):
            out.append((i, low))
    return out
