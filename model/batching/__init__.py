"""Dynamic batching: pure merge/split (``merge``) and the queue + worker (``batcher``)."""

from model.batching.batcher import BatchResult, DynamicBatcher, SerialRunner, Slot
from model.batching.merge import merge, offsets_of, split

__all__ = ["BatchResult", "DynamicBatcher", "SerialRunner", "Slot", "merge", "offsets_of", "split"]
