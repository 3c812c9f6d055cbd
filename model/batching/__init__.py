"""Dynamic batching: pure merge/split (``merge``) and the queue + worker (``batcher``)."""

from model.batching.batcher import BatchFn, BatchResult, DynamicBatcher, Slot
from model.batching.merge import merge, offsets_of, split

__all__ = ["BatchFn", "BatchResult", "DynamicBatcher", "Slot", "merge", "offsets_of", "split"]
