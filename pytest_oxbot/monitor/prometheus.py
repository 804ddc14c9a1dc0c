"""`/metrics`: the fleet's latest snapshots as Prometheus metric families (prometheus_client collector).

A custom collector, not prometheus_client's global metrics: the counters already live in the bots'
snapshots, so exposition reads them at scrape time (nothing is counted twice, nothing kept in a
registry). Base units (seconds, bytes, ratios, USD), `_total` counters, latency as a histogram, and
labels of low cardinality only: process, cache, tier, model, endpoint, batcher, alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from pytest_oxbot.errors import require
from pytest_oxbot.monitor.aggregate import _f
from pytest_oxbot.monitor.metrics import LATENCY_BUCKETS_S

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from pytest_oxbot.monitor.service import Monitor

__all__ = ["exposition"]


def _collector(monitor: Monitor) -> Any:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    class FleetCollector:
        def collect(self) -> Iterator[Metric]:
            snaps = monitor.snapshots
            P = ["process"]
            lookups = CounterMetricFamily(
                "oxbot_cache_lookups", "Cache lookups (all tiers)", labels=[*P, "cache"]
            )
            hits = CounterMetricFamily("oxbot_cache_hits", "Cache hits at any tier", labels=[*P, "cache"])
            t_hits = CounterMetricFamily(
                "oxbot_cache_tier_hits", "Hits per tier", labels=[*P, "cache", "tier"]
            )
            t_miss = CounterMetricFamily(
                "oxbot_cache_tier_misses", "Misses per tier", labels=[*P, "cache", "tier"]
            )
            t_err = CounterMetricFamily(
                "oxbot_cache_tier_errors", "Tier faults", labels=[*P, "cache", "tier"]
            )
            t_up = GaugeMetricFamily(
                "oxbot_cache_tier_up", "1 if the tier is in use", labels=[*P, "cache", "tier"]
            )
            ttl = GaugeMetricFamily(
                "oxbot_cache_ttl_seconds", "Current TTL per tier", labels=[*P, "cache", "tier"]
            )
            l1_entries = GaugeMetricFamily("oxbot_cache_l1_entries", "Entries in L1", labels=[*P, "cache"])
            l1_bytes = GaugeMetricFamily(
                "oxbot_cache_l1_bytes", "Bytes accounted to L1", labels=[*P, "cache"]
            )
            lat = HistogramMetricFamily(
                "oxbot_llm_request_duration_seconds",
                "Latency of LLM provider calls (cache misses)",
                labels=[*P, "model"],
            )
            req = CounterMetricFamily(
                "oxbot_llm_requests", "LLM requests (decisions)", labels=[*P, "model", "cache"]
            )
            cost = CounterMetricFamily("oxbot_llm_cost_usd", "LLM spend in USD", labels=[*P, "model"])
            tokens = CounterMetricFamily(
                "oxbot_llm_tokens", "Tokens of provider calls", labels=[*P, "model", "kind"]
            )
            today = GaugeMetricFamily("oxbot_llm_cost_today_usd", "Spend of the current UTC day", labels=P)
            budget = GaugeMetricFamily("oxbot_llm_budget_daily_usd", "Daily budget limit", labels=P)
            stopped = GaugeMetricFamily(
                "oxbot_llm_emergency_stop", "1 while the budget refuses calls", labels=P
            )
            b_batches = CounterMetricFamily(
                "oxbot_batcher_batches", "Upstream batches", labels=[*P, "batcher"]
            )
            b_items = CounterMetricFamily(
                "oxbot_batcher_items", "Items sent upstream", labels=[*P, "batcher"]
            )
            b_coal = CounterMetricFamily(
                "oxbot_batcher_coalesced", "Requests joined to an identical one", labels=[*P, "batcher"]
            )
            m_req = CounterMetricFamily(
                "oxbot_market_requests", "Exchange HTTP requests", labels=[*P, "client", "endpoint"]
            )
            m_weight = GaugeMetricFamily(
                "oxbot_market_used_weight", "Request weight used this minute", labels=[*P, "client"]
            )
            db_st = CounterMetricFamily("oxbot_db_statements", "SQL statements executed", labels=[*P, "db"])
            db_s = CounterMetricFamily(
                "oxbot_db_statement_seconds", "Time in SQL statements", labels=[*P, "db"]
            )
            comp_in = CounterMetricFamily(
                "oxbot_compressor_original_tokens", "Prompt tokens before compression", labels=P
            )
            comp_out = CounterMetricFamily(
                "oxbot_compressor_tokens", "Prompt tokens after compression", labels=P
            )
            cycles = CounterMetricFamily("oxbot_bot_cycles", "Decision cycles completed", labels=P)
            rss = GaugeMetricFamily("oxbot_process_resident_memory_bytes", "Resident memory", labels=P)
            for proc, s in sorted(snaps.items()):
                for name, c in (s.get("caches") or {}).items():
                    lookups.add_metric([proc, name], _f(c.get("lookups")))
                    hits.add_metric([proc, name], _f(c.get("hits")))
                    l1_entries.add_metric([proc, name], _f(c.get("l1_entries")))
                    l1_bytes.add_metric([proc, name], _f(c.get("l1_bytes")))
                    for tier, t in (c.get("tiers") or {}).items():
                        t_hits.add_metric([proc, name, tier], _f(t.get("hits")))
                        t_miss.add_metric([proc, name, tier], _f(t.get("misses")))
                        t_err.add_metric([proc, name, tier], _f(t.get("errors")))
                        t_up.add_metric([proc, name, tier], 1.0 if t.get("up") else 0.0)
                    for tier, value in (c.get("ttl") or {}).items():
                        if value is not None:
                            ttl.add_metric([proc, name, tier], _f(value))
                cost_today = 0.0
                limit: float | None = None
                stop = 0.0
                for llm in (s.get("llm") or {}).values():
                    cost_today += _f(llm.get("cost_today"))
                    if llm.get("budget_limit") is not None:
                        limit = max(limit or 0.0, _f(llm.get("budget_limit")))
                    stop = max(stop, 1.0 if llm.get("stopped") else 0.0)
                    for model, m in (llm.get("models") or {}).items():
                        counts = [_f(x) for x in (m.get("buckets") or [])]
                        if len(counts) == len(LATENCY_BUCKETS_S) + 1:
                            cumulative = list(accumulate(counts))
                            bounds = [*(repr(b) for b in LATENCY_BUCKETS_S), "+Inf"]
                            lat.add_metric(
                                [proc, model],
                                list(zip(bounds, cumulative, strict=True)),
                                _f(m.get("lat_sum")),
                            )
                        req.add_metric([proc, model, "hit"], _f(m.get("hits")))
                        req.add_metric([proc, model, "miss"], _f(m.get("requests")) - _f(m.get("hits")))
                        cost.add_metric([proc, model], _f(m.get("cost")))
                        tokens.add_metric([proc, model, "prompt"], _f(m.get("prompt_tokens")))
                        tokens.add_metric([proc, model, "completion"], _f(m.get("completion_tokens")))
                if s.get("llm"):
                    today.add_metric([proc], cost_today)
                    stopped.add_metric([proc], stop)
                    if limit is not None:
                        budget.add_metric([proc], limit)
                for name, b in (s.get("batchers") or {}).items():
                    b_batches.add_metric([proc, name], _f(b.get("batches")))
                    b_items.add_metric([proc, name], _f(b.get("items")))
                    b_coal.add_metric([proc, name], _f(b.get("coalesced")))
                for name, m in (s.get("markets") or {}).items():
                    for endpoint, n in (m.get("requests") or {}).items():
                        m_req.add_metric([proc, name, endpoint], _f(n))
                    m_weight.add_metric([proc, name], _f(m.get("used_weight")))
                for name, d in (s.get("db") or {}).items():
                    db_st.add_metric([proc, name], _f(d.get("statements")))
                    db_s.add_metric([proc, name], _f(d.get("time_s")))
                comp = s.get("compressor") or {}
                comp_in.add_metric([proc], _f(comp.get("original_tokens")))
                comp_out.add_metric([proc], _f(comp.get("compressed_tokens")))
                cycles.add_metric([proc], _f(s.get("cycles")))
                rss.add_metric([proc], _f((s.get("memory") or {}).get("rss_bytes")))
            yield from (
                lookups,
                hits,
                t_hits,
                t_miss,
                t_err,
                t_up,
                ttl,
                l1_entries,
                l1_bytes,
                lat,
                req,
                cost,
                tokens,
                today,
                budget,
                stopped,
                b_batches,
                b_items,
                b_coal,
                m_req,
                m_weight,
                db_st,
                db_s,
                comp_in,
                comp_out,
                cycles,
                rss,
            )
            active = GaugeMetricFamily("oxbot_alert_active", "1 while the alert is firing", labels=["alert"])
            firings = CounterMetricFamily("oxbot_alert_firings", "Times the alert fired", labels=["alert"])
            for name, state in sorted(monitor.states.items()):
                active.add_metric([name], 1.0 if state.active else 0.0)
                firings.add_metric([name], float(state.firings))
            yield active
            yield firings
            yield GaugeMetricFamily("oxbot_monitor_processes", "Processes reporting", value=float(len(snaps)))
            hit_rate = monitor.current.values.get("cache_hit_rate")
            if hit_rate is not None:
                yield GaugeMetricFamily(
                    "oxbot_cache_hit_ratio", "Fleet cache hit ratio over the monitor window", value=hit_rate
                )

    return FleetCollector()


def exposition(monitor: Monitor) -> tuple[bytes, str]:
    """The text exposition of the monitor's view and its content type."""
    require("prometheus_client", feature="the monitor's /metrics endpoint", extra="monitor")
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_collector(monitor))
    return generate_latest(registry), CONTENT_TYPE_LATEST
