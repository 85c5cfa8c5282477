"""The cost bound of ledger rows (`ledger/cache_bound.py`): the lowest cost the price lists allow
for the same tokens and prompt structure, priced by the ledger's own token classes; and the cache
notes. Rows are written straight into the database (no engine, no network)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.cache_bound import _Row, _Tree, cache_bound
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.ledger.pricing import price_line
from batch_pipelines_tests.ledger.factories import AT, DAY, add_job, add_tenant, add_usage

D = Decimal
HAIKU = ("anthropic", "claude-haiku-4-5")


def _line(
    conn: Connection,
    tenant: str,
    job: str,
    usage: TokenUsage,
    chain: list[tuple[str, int]] | None,
    at: dt.datetime = AT,
) -> None:
    """A usage row whose request was planned with the cache-prefix `chain` (shortest first)."""
    usage_id = add_usage(conn, tenant, job, usage, occurred_at=at)
    if chain is None:
        return
    provider, model = conn.execute(
        text("SELECT provider, model FROM batch_jobs WHERE batch_job_id = :j"), {"j": job}
    ).one()
    conn.execute(
        text(
            "INSERT INTO prompt_prefixes (prefix_key, provider, model, keys, tokens)"
            " VALUES (:k, :p, :m, :keys, :tokens) ON CONFLICT DO NOTHING"
        ),
        {
            "k": chain[-1][0],
            "p": provider,
            "m": model,
            "keys": [k for k, _ in chain],
            "tokens": [t for _, t in chain],
        },
    )
    conn.execute(
        text(
            "UPDATE batch_requests SET cache_prefix = :k WHERE custom_id ="
            " (SELECT custom_id FROM llm_usage WHERE usage_id = :u)"
        ),
        {"k": chain[-1][0], "u": usage_id},
    )


def _bound(engine, tenants=("acme",)) -> dict:
    with engine.begin() as conn:
        for tenant in tenants:
            price_partition(conn, DAY, tenant)
        return cache_bound(conn, DAY, DAY)


def _batch(usages: list[TokenUsage], model: str = HAIKU[1], provider: str = HAIKU[0]) -> D:
    return price_line(provider, model, "batch", TokenUsage.sum(usages), AT).cost_micro_usd


def test_a_shared_prefix_is_written_once_and_read_by_every_other_row(engine) -> None:
    with engine.begin() as conn:
        add_tenant(conn, "acme")
        job = add_job(conn, "lead_scoring")
        for _ in range(10):  # as sent with no cache at all: 5,000 shared + 200 own tokens each
            _line(conn, "acme", job, TokenUsage(5_200, 0, 0, 0, 300), [("p1", 5_000)])
    bound = _bound(engine)
    expected = _batch(
        [TokenUsage(200, 0, 5_000, 5_000, 300)] + [TokenUsage(200, 5_000, 0, 0, 300)] * 9
    )
    assert bound.by_partition == {("acme", "lead_scoring", DAY): expected}
    assert expected < _batch([TokenUsage(5_200, 0, 0, 0, 300)] * 10)
    (note,) = bound.notes("lead_scoring")
    assert (
        note
        == "prefix 5,000 ≥ 4,096 for claude-haiku-4-5: cached, 0% of prompt tokens read from cache"
    )


def test_a_prefix_below_the_minimum_or_too_rarely_read_is_not_cached(engine) -> None:
    with engine.begin() as conn:
        add_tenant(conn, "acme")
        job = add_job(conn, "lead_scoring")
        for _ in range(5):
            _line(conn, "acme", job, TokenUsage(3_200, 0, 0, 0, 300), [("short", 3_000)])
        # Two rows of a 5,000-token prefix: a 1-hour write (2x) and a read cost more than two
        # uncached reads (1x each) at Haiku's prices.
        for _ in range(2):
            _line(conn, "acme", job, TokenUsage(5_200, 0, 0, 0, 300), [("pair", 5_000)])
    bound = _bound(engine)
    assert bound.by_partition[("acme", "lead_scoring", DAY)] == _batch(
        [TokenUsage(3_200, 0, 0, 0, 300)] * 5 + [TokenUsage(5_200, 0, 0, 0, 300)] * 2
    )
    (note,) = bound.notes("lead_scoring")
    assert "for claude-haiku-4-5: cached" in note  # one of the two prefixes clears the minimum
    assert "1 of 2 prefixes below the minimum" in note


def test_one_write_per_prefix_per_ttl_and_nested_prefixes_written_once_each(engine) -> None:
    with engine.begin() as conn:
        add_tenant(conn, "acme")
        add_tenant(conn, "beta")
        job = add_job(conn, "lead_scoring", model="claude-sonnet-4-5")  # caches from 1,024
        later = AT + dt.timedelta(hours=3)  # past the 1-hour TTL: the prefix is written again
        for tenant, at in itertools.product(("acme", "beta"), (AT, later)):
            for _ in range(5):
                chain = [("shared", 2_000), (f"{tenant}-ctx", 4_000)]
                _line(conn, tenant, job, TokenUsage(4_100, 0, 0, 0, 100), chain, at)
    bound = _bound(engine, ("acme", "beta"))
    sonnet = ("anthropic", "claude-sonnet-4-5")
    # Per session: the first tenant's first row writes both prefixes, the other tenant's first
    # row reads the shared one and writes its own part; every other row reads its tenant's.
    first = TokenUsage(100, 0, 4_000, 4_000, 100)
    second = TokenUsage(100, 2_000, 2_000, 2_000, 100)
    reader = TokenUsage(100, 4_000, 0, 0, 100)
    acme = _batch([first, first] + [reader] * 8, sonnet[1])
    beta = _batch([second, second] + [reader] * 8, sonnet[1])
    assert bound.by_partition == {
        ("acme", "lead_scoring", DAY): acme,
        ("beta", "lead_scoring", DAY): beta,
    }


def test_no_discount_no_cache_or_gpu_time_leave_the_cost_as_it_is(engine) -> None:
    with engine.begin() as conn:
        add_tenant(conn, "acme")
        calls = add_job(conn, "post_call")  # gpt-4o-mini: a batch cache read costs an input
        docs = add_job(conn, "kb_index")
        hosted = add_job(conn, "post_call", provider="self_hosted", model="llama-3-70b",
                         mode="self_hosted")  # fmt: skip
        for _ in range(6):
            _line(conn, "acme", calls, TokenUsage(564, 1_536, 0, 0, 100), [("pc", 1_600)])
        _line(conn, "acme", docs, TokenUsage(20_000), None)
        _line(conn, "acme", hosted, TokenUsage(1_000, 0, 0, 0, 100), None)
    with engine.begin() as conn:
        price_partition(conn, DAY, "acme")
        costs = dict(
            conn.execute(
                text("SELECT workflow, sum(cost_micro_usd) FROM cost_ledger GROUP BY workflow")
            ).all()
        )
        bound = cache_bound(conn, DAY, DAY)
    assert bound.by_partition[("acme", "kb_index", DAY)] == costs["kb_index"]
    assert bound.by_partition[("acme", "post_call", DAY)] == costs["post_call"]
    notes = [e.note for e in bound.engagement]
    assert "text-embedding-3-large: no prompt cache (embeddings have no prompt cache)" in notes
    assert any("no cached-input discount" in n and "gpt-4o-mini" in n for n in notes)
    assert any("self-hosted" in n and "GPU time" in n for n in notes)


# ---- the choice over the tree is the cheapest one ------------------------------------------------

PRICES = (D("0.5"), D("0.05"), D("1"))  # Haiku 4.5 batch: uncached, read, 1-hour write


def _tree(spec: list[tuple[int, int, int]]) -> tuple[_Tree, list]:
    """A tree of prefixes from (parent index or -1, extra tokens, rows directly under it)."""
    from batch_pipelines.ledger.cache_bound import _Prices

    tree = _Tree("anthropic", "claude-sonnet-4-5", _Prices(*PRICES))
    chains: list[list[tuple[str, int]]] = []
    for index, (parent, extra, rows) in enumerate(spec):
        above = chains[parent] if parent >= 0 else []
        tokens = (above[-1][1] if above else 0) + extra
        chains.append([*above, (f"n{index}", tokens)])
        for n in range(rows):
            at = AT + dt.timedelta(minutes=n * 50)
            row = _Row(
                "t", "w", "anthropic", "m", "batch", DAY, at, TokenUsage(tokens), D(0), False
            )
            tree.add(row, chains[-1])
    nodes = []
    stack = list(tree.roots.values())
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.children.values())
    return tree, nodes


def _cost_of(tree: _Tree, cached: set) -> D:
    """The extra cost over every token uncached of caching exactly the nodes in `cached`."""
    uncached, read, write = PRICES
    total = D(0)

    def walk(node, above: int) -> None:
        nonlocal total
        if node in cached:
            sessions = tree._session_count(node)
            total += (node.tokens - above) * (
                sessions * (write - read) - len(node.rows) * (uncached - read)
            )
            above = node.tokens
        for child in node.children.values():
            walk(child, above)

    for root in tree.roots.values():
        walk(root, 0)
    return total


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-1, 5), st.integers(0, 3_000), st.integers(0, 4)),
        min_size=1,
        max_size=6,
    )
)
def test_the_bound_takes_the_cheapest_choice_of_cached_prefixes(raw) -> None:
    spec = [
        (parent if parent < index else -1, extra, rows)
        for index, (parent, extra, rows) in enumerate(raw)
    ]
    tree, nodes = _tree(spec)
    eligible = [n for n in nodes if tree.cacheable(n)]
    cheapest = min(
        _cost_of(tree, set(choice))
        for size in range(len(eligible) + 1)
        for choice in itertools.combinations(eligible, size)
    )
    found = sum((tree._best(root, 0) for root in tree.roots.values()), D(0))
    assert found == cheapest
    tree.solve()
    assert _cost_of(tree, {n for n in nodes if n.cached}) == cheapest
