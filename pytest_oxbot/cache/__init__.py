"""The hierarchical cache: L1 memory -> L2 Redis -> L3 SQL, typed, namespaced and coherent."""

from .codec import Codec, CodecError
from .compat import AdvancedCacheStrategy, PerformanceCache
from .hierarchical import CacheBackendError, HierarchicalCache
from .keys import make_key
from .memory import MemoryTier
from .protocol import AsyncCache
from .stats import CacheStats, TierStats

__all__ = [
    "AdvancedCacheStrategy",
    "AsyncCache",
    "CacheBackendError",
    "CacheStats",
    "Codec",
    "CodecError",
    "HierarchicalCache",
    "MemoryTier",
    "PerformanceCache",
    "TierStats",
    "make_key",
]
