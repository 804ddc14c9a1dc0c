"""The 0xBot performance guide's API, called exactly as the guide calls it, over the toolkit's classes.

Every snippet of the guide runs with only its import changed to `from pytest_oxbot.compat import ...`
(tests/compat runs each one). The names are thin: the behaviour lives in the real classes they wrap.

- `PerformanceCache(redis_client)`, `AdvancedCacheStrategy()`: `HierarchicalCache` (L1 -> L2 -> L3);
- `IntelligentBatcher(batch_window=0.1)` with `add_request(request)`: `batcher.IntelligentBatcher`;
- `OptimizedNetworkClient()` with `fetch_market_data_batch(symbols)`: `MarketDataClient`;
- `get_ultra_optimized_llm().analyze_market_ultra_fast(...)`: `CostAwareLLMClient` + the compressor;
- `CompressedMarketData().compress_price_series(prices)`: `compressor.market_data`;
- `PerformanceOptimizer().run_performance_benchmark()`: the toolkit measured on the shipped samples.

docs/guide.md shows each snippet of the guide beside what it does here.
"""

from pytest_oxbot.compat.batching import IntelligentBatcher
from pytest_oxbot.compat.benchmark import PerformanceOptimizer
from pytest_oxbot.compat.caching import AdvancedCacheStrategy, PerformanceCache
from pytest_oxbot.compat.llm import (
    UltraOptimizedLLM,
    close_ultra_optimized_llm,
    get_ultra_optimized_llm,
    render_market_prompt,
)
from pytest_oxbot.compat.market import CompressedMarketData, OptimizedNetworkClient

__all__ = [
    "AdvancedCacheStrategy",
    "CompressedMarketData",
    "IntelligentBatcher",
    "OptimizedNetworkClient",
    "PerformanceCache",
    "PerformanceOptimizer",
    "UltraOptimizedLLM",
    "close_ultra_optimized_llm",
    "get_ultra_optimized_llm",
    "render_market_prompt",
]
