"""`savings`: what Profile A costs a day on `gpt-4o-mini` and on `claude-haiku-4-5`, from the ledger.

Profile A: 100 tenants, 10,000 calls a day, prompts of about 8,000 input tokens, answers of about
1,000 output tokens. Calls go through the real engine (`lifecycle.run_to_completion`: plan, submit,
poll, ingest) and the emulator's prompt caching, `price_partition` prices every (date, tenant), and
the figures are sums over `cost_ledger`:

- sync: `sync_cost_micro_usd`, the same tokens at the synchronous, uncached list price;
- batch: the same tokens at the batch price with no cache (`cost_micro_usd` plus the cache-read
  savings minus the cache-write premium the ledger splits out, i.e. sync minus the batch discount);
- batch + cache: `cost_micro_usd`, what was billed.

The static prefix is long enough for the emulator to cache (OpenAI >= 1,024 tokens; Anthropic
haiku >= 2,048 up to the first breakpoint): the post-call instructions plus an appendix of worked
examples, then the vertical's rubric and the business's name. The day arrives as the 5-minute
sensor delivers it: a first window with one call per tenant, which finds nothing cached, then
windows with the rest, which read the prefixes earlier batches wrote (requests of one batch never
see each other's writes; with ~100 calls per tenant a day the 1-hour cache stays warm). So a
Profile A day is costed as the first window's 100 cold calls plus 9,900 times the average warm
call, measured on 20 calls per tenant (x scale). The emulator's answers are short (about 60
tokens), so `output_tokens` is set to Profile A's 1,000 on every usage row before pricing; input,
cache-read and cache-write tokens are the emulator's. Each figure is the median of the runs (which
batch of a window the emulator finishes first decides who writes a shared prefix, so cache shares
vary a little from run to run).
"""

from __future__ import annotations

import statistics

from sqlalchemy import text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.post_call import INSTRUCTIONS, PostCallAnalytics
from benchmarks import data
from benchmarks.harness import BenchServer, Figure, clear_spool, emulator, log

TENANTS = 100
CALLS = 10_000
MEASURED_PER_TENANT = 20
PROMPT_TOKENS = 8_000
OUTPUT_TOKENS = 1_000
LATER_WINDOWS = 3
MODELS = (
    ("openai", "gpt-4o-mini", "/v1/chat/completions"),
    ("anthropic", "claude-haiku-4-5", "/v1/messages"),
)

_EXAMPLES = (
    ("a caller books a first consultation for next Tuesday and asks about parking", 0.5, 90),
    ("a caller complains that a technician did not arrive and asks for a refund", -0.6, 25),
    ("a supplier tries to sell printer toner to the business", 0.0, 0),
    ("a caller compares prices with a competitor and asks for a written quote", 0.2, 62),
    ("a voicemail with a name and a request to be called back about availability", 0.0, 45),
    ("a regular customer reschedules and adds a second service to the visit", 0.7, 84),
    ("a caller asks only for the opening hours on the bank holiday", 0.0, 38),
    ("a caller reports an urgent problem and is given the first slot this afternoon", -0.2, 88),
    ("a caller asks for the invoice of last month's visit to be sent again", 0.1, 22),
    ("a caller cancels all future appointments after moving to another city", -0.1, 8),
    ("a group of twelve asks about a private booking with a set menu next month", 0.6, 92),
    ("a silent call that drops after the greeting", 0.0, 0),
)


def appendix() -> str:
    """Worked examples appended to the instructions (static: identical for every tenant)."""
    parts = [
        "Further worked examples (for other calls; use them to calibrate, never copy them). For "
        "each, the situation, then the sentiment and lead_score a careful analyst would give, and "
        "the reasoning behind them."
    ]
    for n, (situation, sentiment, score) in enumerate(_EXAMPLES, 1):
        parts.append(
            f"Example {n}: {situation}. Sentiment {sentiment:+.1f}: judge the caller's feeling at "
            f"the end of the call, not at its start, and do not let the receptionist's politeness "
            f"raise it. Lead score {score}: start from the band of the vertical's rubric that the "
            "caller's intent falls in, then move within the band by how concrete the next step is "
            "(a booked slot or an accepted quote ranks higher than a promise to call back) and by "
            "how soon the business will be paid. The summary names what was asked, what was agreed "
            "and what is still open; the next action is one imperative sentence that a member of "
            "staff can carry out tomorrow morning without listening to the recording."
        )
    return "\n\n".join(parts)


class ProfileAPostCall(PostCallAnalytics):
    """The real post-call workflow with a longer shared prefix (instructions + worked examples)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._instructions = INSTRUCTIONS + "\n\n" + appendix()

    def static_blocks(self, tenant):
        _instructions, *rest = super().static_blocks(tenant)
        return (self._instructions, *rest)


def _windows(engine) -> list[list[str]]:
    """The first call of each tenant, then the rest in `LATER_WINDOWS` slices."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT call_id, row_number() OVER (PARTITION BY tenant_id ORDER BY ended_at,"
                " call_id) AS n FROM calls ORDER BY call_id"
            )
        ).all()
    windows: list[list[str]] = [[] for _ in range(LATER_WINDOWS + 1)]
    for call_id, n in rows:
        windows[0 if n == 1 else 1 + (n - 2) % LATER_WINDOWS].append(call_id)
    return [w for w in windows if w]


_SUMS = """
    SELECT count(*) AS lines,
           coalesce(sum(c.sync_cost_micro_usd), 0) AS sync,
           coalesce(sum(c.cost_micro_usd + c.cache_read_savings_micro_usd
                         - c.cache_write_premium_micro_usd), 0) AS batch,
           coalesce(sum(c.sync_cost_micro_usd - c.batch_discount_micro_usd), 0) AS batch_check,
           coalesce(sum(c.cost_micro_usd), 0) AS cached,
           coalesce(sum(c.input_tokens + c.cached_input_tokens + c.cache_write_tokens), 0)
               AS prompt,
           coalesce(sum(c.cached_input_tokens), 0) AS cache_read,
           coalesce(sum(c.cache_write_tokens), 0) AS cache_write
    FROM cost_ledger c
    JOIN llm_usage u USING (usage_id)
    JOIN batch_requests r ON r.custom_id = u.custom_id
    WHERE (r.item_id = ANY(:cold)) = :is_cold
"""


def _day_cost(server: BenchServer, source: str, provider: str, model: str, endpoint: str):
    """One day through the engine; the ledger sums of the cold first window and of the rest."""
    db = server.create("savings", template=source)
    workflow = ProfileAPostCall(provider=provider, model=model, endpoint=endpoint)
    with server.use(db) as engine, emulator(complete_after=0):
        windows = _windows(engine)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE calls SET started_at = started_at + interval '30 days',"
                    " ended_at = ended_at + interval '30 days'"
                )
            )
        providers = ProviderRegistry()
        for window in windows:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE calls SET started_at = started_at - interval '30 days',"
                        " ended_at = ended_at - interval '30 days' WHERE call_id = ANY(:ids)"
                    ),
                    {"ids": window},
                )
            outcome = run_to_completion(
                engine, workflow, providers, [data.DAY], max_rounds=500, poll_interval=0.02
            )
            if outcome.open_requests:
                raise RuntimeError(f"{outcome.open_requests} requests still open after a window")
        with engine.begin() as conn:
            emulated_output = conn.execute(
                text("SELECT coalesce(avg(output_tokens), 0) FROM llm_usage")
            ).scalar_one()
            conn.execute(text("UPDATE llm_usage SET output_tokens = :n"), {"n": OUTPUT_TOKENS})
        cache: dict = {}
        for tenant_id in data.tenant_ids(engine):
            with engine.begin() as conn:
                price_partition(conn, data.DAY, tenant_id, price_cache=cache)
        with engine.connect() as conn:
            cold, warm = (
                conn.execute(text(_SUMS), {"cold": windows[0], "is_cold": is_cold}).one()
                for is_cold in (True, False)
            )
    server.drop(db)
    clear_spool()
    for part in (cold, warm):
        if part.batch != part.batch_check:
            raise RuntimeError(f"ledger split does not add up: {part.batch} != {part.batch_check}")
    return cold, warm, float(emulated_output)


def _profile_day(cold, warm) -> dict[str, float]:
    """A Profile A day: the cold first window as measured, every other call at the warm average."""
    scale = (CALLS - cold.lines) / warm.lines
    day = {
        key: (float(getattr(cold, key)) + float(getattr(warm, key)) * scale)
        for key in ("sync", "batch", "cached", "prompt", "cache_read", "cache_write")
    }
    day["batch_saved"] = 1 - day["batch"] / day["sync"]
    day["cached_saved"] = 1 - day["cached"] / day["sync"]
    return day


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    per_tenant = max(2, round(MEASURED_PER_TENANT * scale))
    size = data.transcript_bytes_for(ProfileAPostCall(), PROMPT_TOKENS)
    source = server.create("savings_src")
    with server.use(source) as engine:
        data.seed(engine, tenants=TENANTS, calls_per_tenant=per_tenant, transcript_bytes=size)
    server.vacuum_analyze(source)
    figures: list[Figure] = []
    for provider, model, endpoint in MODELS:
        days, outputs, measured = [], [], 0
        for attempt in range(repeats):
            cold, warm, emulated_output = _day_cost(server, source, provider, model, endpoint)
            day = _profile_day(cold, warm)
            days.append(day)
            outputs.append(emulated_output)
            measured = cold.lines + warm.lines
            log(
                f"savings {model} run {attempt + 1}: {cold.lines} cold + {warm.lines} warm calls, "
                f"{day['cache_read'] / day['prompt']:.1%} of prompt tokens from cache; a day: sync "
                f"${day['sync'] / 1e6:,.2f}, batch ${day['batch'] / 1e6:,.2f}, batch+cache "
                f"${day['cached'] / 1e6:,.2f}"
            )
        med = {key: statistics.median(d[key] for d in days) for key in days[0]}
        prompt_avg = med["prompt"] / CALLS
        figures += [
            Figure(
                name=f"savings/{model}/sync",
                value=round(med["sync"] / 1e6, 2),
                unit="USD/day",
                note=f"Profile A: {CALLS:,} calls of ~{prompt_avg:,.0f} + {OUTPUT_TOKENS:,} "
                f"tokens, synchronous, uncached (measured on {measured:,} calls)",
            ),
            Figure(
                name=f"savings/{model}/batch",
                value=round(med["batch_saved"], 4),
                unit="fraction saved",
                target=">= 0.5",
                ok=med["batch_saved"] >= 0.4999,
                note=f"${med['batch'] / 1e6:,.2f}/day",
            ),
            Figure(
                name=f"savings/{model}/batch+cache",
                value=round(med["cached_saved"], 4),
                unit="fraction saved",
                target=">= batch",
                ok=med["cached_saved"] >= med["batch_saved"],
                note=f"${med['cached'] / 1e6:,.2f}/day; {med['cache_read'] / med['prompt']:.1%} "
                f"of prompt tokens read from cache, {med['cache_write'] / med['prompt']:.1%} "
                f"written; emulated answers {statistics.median(outputs):,.0f} tokens, priced at "
                f"{OUTPUT_TOKENS:,}",
            ),
        ]
    server.drop(source)
    return figures
