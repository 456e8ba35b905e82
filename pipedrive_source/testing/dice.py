"""Deterministic randomness: the same (seed, entity, id) always gives the same record.

`Dice` is a tiny 64-bit linear congruential generator: much cheaper to seed than `random.Random` (which
matters when a 500-record page builds 500 records), and good enough for picking names and amounts. Bulk
generation of the per-id arrays uses `random.Random` seeded by `mix`, which is faster per draw.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")

_MASK = (1 << 64) - 1
_UNIT = 2.0**-53
_KEY_1, _KEY_2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_LCG_A, _LCG_C = 6364136223846793005, 1442695040888963407


@lru_cache(maxsize=4096)
def _text_value(text: str) -> int:
    return zlib.crc32(text.encode())


def mix(*parts: int | str) -> int:
    """A well-spread 64-bit number from integers and strings (splitmix64 over the parts)."""
    state = 0x9E3779B97F4A7C15
    for part in parts:
        value = _text_value(part) if isinstance(part, str) else part
        state = (state ^ value) & _MASK
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        state = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        state = ((state ^ (state >> 27)) * 0x94D049BB133111EB) & _MASK
        state ^= state >> 31
    return state


@lru_cache(maxsize=4096)
def salt(seed: int, entity: str) -> int:
    """The per-(seed, entity) part of a record's seed, computed once."""
    return mix(seed, entity)


def rng(*parts: int | str) -> random.Random:
    """A `random.Random` for bulk generation, seeded from the parts."""
    return random.Random(mix(*parts))


class Dice:
    """A cheap deterministic generator for building one record."""

    __slots__ = ("_state",)

    def __init__(self, *parts: int | str) -> None:
        self._state = mix(*parts)

    @classmethod
    def keyed(cls, salt: int, number: int) -> Dice:
        """`Dice(*parts, number)` for a precomputed `salt = mix(*parts)`: the cheap way to seed per record."""
        dice = cls.__new__(cls)
        state = ((salt ^ number) * _KEY_1) & _MASK
        dice._state = ((state ^ (state >> 29)) * _KEY_2) & _MASK
        return dice

    def _next(self) -> int:
        self._state = (self._state * _LCG_A + _LCG_C) & _MASK
        return self._state >> 11

    def random(self) -> float:
        return self._next() * _UNIT

    def pick(self, items: Sequence[T]) -> T:
        return items[self._next() % len(items)]

    def chance(self, probability: float) -> bool:
        return self._next() * _UNIT < probability

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return low + self._next() % (high - low + 1)

    def sample(self, items: Sequence[T], count: int) -> list[T]:
        pool = list(items)
        chosen = []
        for _ in range(min(count, len(pool))):
            chosen.append(pool.pop(self._next() % len(pool)))
        return chosen


def first_draws(salt: int, number: int) -> tuple[int, int]:
    """The first two raw draws of `Dice.keyed(salt, number)`, without making a `Dice` (record builders call
    this for every record of a page)."""
    state = ((salt ^ number) * _KEY_1) & _MASK
    state = ((state ^ (state >> 29)) * _KEY_2) & _MASK
    state = (state * _LCG_A + _LCG_C) & _MASK
    first = state >> 11
    state = (state * _LCG_A + _LCG_C) & _MASK
    return first, state >> 11
