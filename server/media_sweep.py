"""The sweep of unattached media: uploads that nothing (post, message, avatar)
took within ``media_unattached_ttl`` are deleted, storage first, then the
record, so that a failure midway leaves a record the next sweep retries,
never files without a record that nobody would find again.
"""

from __future__ import annotations

import logging
from typing import Final

from actors.ports import MediaStorage, StoredMedia
from actors.store.media import MediaRecord, MediaStore

__all__ = ["SWEEP_BATCH", "SWEEP_MAX_BATCHES", "stored_of", "sweep_unattached"]

log = logging.getLogger("grover.media")

#: Records read per batch, and batches per sweep: one sweep does bounded work
#: (a backlog is worked off over several sweeps).
SWEEP_BATCH: Final = 100
SWEEP_MAX_BATCHES: Final = 20


def stored_of(record: MediaRecord) -> StoredMedia:
    """What the storage needs to delete a record's files."""
    return StoredMedia(
        url=record.url, thumbnail_url=record.thumbnail_url, storage_key=record.storage_key
    )


async def sweep_unattached(
    store: MediaStore,
    storage: MediaStorage,
    before: float,
    *,
    batch: int = SWEEP_BATCH,
    max_batches: int = SWEEP_MAX_BATCHES,
) -> int:
    """Delete media unattached and created before ``before``; returns how
    many. A medium that fails is logged and left for the next sweep; the
    sweep stops early when a whole batch failed (the same rows would come
    back)."""
    removed = 0
    for _ in range(max_batches):
        records = await store.unattached_before(before, batch)
        removed_here = 0
        for record in records:
            try:
                # Attached since it was listed (a post made at the last
                # moment): keep it.
                current = await store.get(record.id)
                if current is None or current.attached_to is not None:
                    continue
                await storage.delete(stored_of(current))
                if await store.delete(record.id):
                    removed_here += 1
            except Exception:
                log.exception("sweeping medium %s failed", record.id)
        removed += removed_here
        if len(records) < batch or removed_here == 0:
            break
    return removed
