"""When generated records were added, last updated and deleted.

Add times grow with the id (ids are handed out in creation order) over the 4 years before the reference
instant. Update times fall between the add time and the reference instant; about a quarter of the records
share one of a few hundred "bulk edit" seconds (imports, automations), so many records have the same update
second, as in a real company. A small share of records is deleted, each in the 25 days before the reference
instant.
"""

from __future__ import annotations

import bisect
import random
from array import array
from itertools import accumulate

from pipedrive_source.testing.clock import DAY, HISTORY_SECONDS, HISTORY_START, REFERENCE_INSTANT
from pipedrive_source.testing.dice import mix

BULK_EDIT_SHARE = 0.25
UNTOUCHED_SHARE = 0.15


class Timeline:
    """Add and update seconds and deleted flags of `count` generated records.

    Built column by column with comprehensions: at a million records a per-record loop costs seconds.
    """

    def __init__(self, seed: int, entity: str, count: int, deleted_share: float) -> None:
        rng = random.Random(mix(seed, entity, "timeline"))
        rand = rng.random
        bulk = sorted(HISTORY_START + int(rand() * HISTORY_SECONDS) for _ in range(400))
        last_bulk = len(bulk)
        end = REFERENCE_INSTANT - 1
        # Gaps between additions average half a unit: scale them so the additions span the history.
        scale = 2 * HISTORY_SECONDS / max(count, 1)
        added = [HISTORY_START + int(total * scale) for total in accumulate(rand() for _ in range(count))]
        # The sums grow monotonically: only the last few can pass the end of the history.
        position = count - 1
        while position >= 0 and added[position] > end:
            added[position] = end
            position -= 1
        rolls = [rand() for _ in range(count)]
        shares = (
            deleted_share,
            deleted_share + UNTOUCHED_SHARE,
            deleted_share + UNTOUCHED_SHARE + BULK_EDIT_SHARE,
        )

        def bulk_edit(add: int, fraction: float) -> int:
            first = bisect.bisect_left(bulk, add)
            return bulk[first + int(fraction * (last_bulk - first))] if first < last_bulk else add

        deleted_cut, untouched_cut, bulk_cut = shares
        updated = [
            max(add, REFERENCE_INSTANT - 1 - int(roll / deleted_cut * 25 * DAY))
            if roll < deleted_cut
            else add
            if roll < untouched_cut
            else bulk_edit(add, (roll - untouched_cut) / BULK_EDIT_SHARE)
            if roll < bulk_cut
            else add + int((roll - bulk_cut) / (1 - bulk_cut) * (end - add))
            for add, roll in zip(added, rolls, strict=True)
        ]
        self.add_ts = array("q", added)
        self.update_ts = array("q", updated)
        self.deleted = bytearray(roll < deleted_cut for roll in rolls)
