"""The hierarchical cache: L1 memory -> L2 Redis -> L3 SQL, typed, namespaced and coherent.

What a bot uses: `HierarchicalCache` (with `FaultPolicy`, `CoherencePolicy`, `LockPolicy` to tune it),
`make_key`, the `Codec` for its own types, `CacheStats`, and the errors (all `CacheError`s). The
`AsyncCache` protocol is what the other components accept; the `Tier` protocol is what each tier
implements. Fault injection for tests is in `pytest_oxbot.cache.faults`.
"""

from .codec import Codec
from .coherence import CoherencePolicy
from .errors import CacheBackendError, CacheError, CacheUsageError, CodecError
from .guard import FaultPolicy
from .hierarchical import HierarchicalCache
from .keys import make_key
from .memory import MemoryTier
from .protocol import AsyncCache
from .singleflight import LockPolicy
from .stats import CacheStats, TierStats
from .tiers import Stored, Tier

__all__ = [
    "AsyncCache",
    "CacheBackendError",
    "CacheError",
    "CacheStats",
    "CacheUsageError",
    "Codec",
    "CodecError",
    "CoherencePolicy",
    "FaultPolicy",
    "HierarchicalCache",
    "LockPolicy",
    "MemoryTier",
    "Stored",
    "Tier",
    "TierStats",
    "make_key",
]
