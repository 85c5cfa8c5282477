"""Chunking of knowledge-base documents: whole sentences, bounded size, deterministic, edit-stable."""

from __future__ import annotations

import hashlib
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_pipelines.workflows.chunking import (
    chunk_document,
    estimate_tokens,
    normalize_text,
    split_paragraphs,
    split_sentences,
)

# Real words, none of them an abbreviation the splitter keeps a period after ("Dr.", "etc.").
WORDS = (
    "appointment", "booking", "clinic", "parking", "evening", "weekend", "patients", "deposit",
    "refund", "cancel", "whitening", "hygiene", "boiler", "survey", "viewing", "tenancy", "colour",
    "haircut", "allergy", "insurance", "invoice", "manager", "reception", "weekday", "morning",
    "arrival", "payment", "voucher", "review", "treatment", "annual",
)  # fmt: skip

TARGET, OVERLAP = 60, 12  # small, so that Hypothesis documents span many chunks


def _sentence(words: list[str], end: str) -> str:
    return " ".join([words[0].capitalize(), *words[1:]]) + end


sentences = st.builds(
    _sentence, st.lists(st.sampled_from(WORDS), min_size=1, max_size=10), st.sampled_from(".!?")
)
# Now and then a sentence far longer than the target, which alone may be cut (a repeated phrase:
# cheap to generate).
long_sentences = st.builds(
    lambda words, n: _sentence(words * n, "."),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=5),
    st.integers(15, 40),
)
paragraphs = st.lists(
    st.one_of(sentences, sentences, sentences, sentences, long_sentences), min_size=1, max_size=6
)
documents = st.lists(paragraphs, min_size=1, max_size=8)


def _join(doc: list[list[str]]) -> str:
    return "\n\n".join(" ".join(p) for p in doc)


def test_token_estimate_is_utf8_bytes_over_four_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("é") == 1  # two bytes
    assert estimate_tokens("日本語") == 3  # nine bytes


def test_sentences_end_at_punctuation_but_not_after_abbreviations_or_list_numbers() -> None:
    text = normalize_text(
        "Dr. Smith sees patients at 9 a.m. on weekdays. Call us! Is parking free? "
        "Yes, e.g. on Main St. near J. Doe's shop.\r\n"
        "Opening hours:\n- Monday 9-5\n- Tuesday 9-5\n1. First step\n"
        "This line is hard-wrapped\nand continues here."
    )
    got = [text[a:b] for a, b in split_sentences(text, 0, len(text))]
    assert got == [
        "Dr. Smith sees patients at 9 a.m. on weekdays.",
        "Call us!",
        "Is parking free?",
        "Yes, e.g. on Main St. near J. Doe's shop.",
        "Opening hours:",
        "- Monday 9-5",
        "- Tuesday 9-5",
        "1. First step",
        "This line is hard-wrapped\nand continues here.",
    ]


def test_paragraphs_are_separated_by_blank_lines() -> None:
    text = "One.\nStill one.\n\n\n  Two.  \n \nThree."
    assert [text[a:b] for a, b in split_paragraphs(text)] == ["One.\nStill one.", "Two.", "Three."]


def test_blank_document_has_no_chunks_and_a_short_one_has_one() -> None:
    assert chunk_document("") == []
    assert chunk_document(" \n\n\t ") == []
    [only] = chunk_document("Parking is free for patients.")
    assert only.index == 0
    assert only.content == "Parking is free for patients."
    assert only.sha256 == hashlib.sha256(b"Parking is free for patients.").hexdigest()


@settings(max_examples=100, deadline=None)
@given(documents)
def test_every_sentence_is_whole_in_some_chunk_unless_it_alone_exceeds_the_target(
    doc: list[list[str]],
) -> None:
    text = _join(doc)
    chunks = chunk_document(text, TARGET, OVERLAP)
    normalized = normalize_text(text)
    for c in chunks:
        assert c.content == normalized[c.start : c.end]
        assert c.content == c.content.strip() and c.content
        assert c.sha256 == hashlib.sha256(c.content.encode()).hexdigest()
        assert c.tokens <= TARGET
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for sentence in (s for p in doc for s in p):
        if estimate_tokens(sentence) <= TARGET:
            assert any(sentence in c.content for c in chunks), sentence
        else:
            # Cut only at whitespace: every word survives, and the pieces cover the sentence.
            covered = " ".join(c.content for c in chunks)
            assert all(word in covered for word in sentence.split())
    # Nothing is lost: the chunks' spans cover every character that is not whitespace.
    covered_chars = set()
    for c in chunks:
        covered_chars.update(range(c.start, c.end))
    assert all(ch.isspace() or i in covered_chars for i, ch in enumerate(normalized))


@settings(max_examples=30, deadline=None)
@given(documents)
def test_chunking_is_deterministic(doc: list[list[str]]) -> None:
    text = _join(doc)
    assert chunk_document(text, TARGET, OVERLAP) == chunk_document(text, TARGET, OVERLAP)
    # And independent of line-ending style.
    assert [c.sha256 for c in chunk_document(text.replace("\n", "\r\n"), TARGET, OVERLAP)] == [
        c.sha256 for c in chunk_document(text, TARGET, OVERLAP)
    ]


@settings(max_examples=60, deadline=None)
@given(documents, st.data())
def test_an_edit_never_changes_the_chunks_before_the_paragraph_preceding_it(
    doc: list[list[str]], data: st.DataObject
) -> None:
    # The chunk holding the preceding paragraph may change: whether it had room for the edited
    # paragraph depends on that paragraph's size. Everything before it cannot.
    j = data.draw(st.integers(0, len(doc) - 1))
    edited = list(doc)
    edited[j] = data.draw(paragraphs)
    old_text = normalize_text(_join(doc))
    paragraph_start = split_paragraphs(old_text)[max(j - 1, 0)][0]
    old = chunk_document(old_text, TARGET, OVERLAP)
    new = {(c.index, c.sha256) for c in chunk_document(_join(edited), TARGET, OVERLAP)}
    for c in old:
        if c.end < paragraph_start:
            assert (c.index, c.sha256) in new


def test_overlap_repeats_whole_sentences_of_the_previous_chunk() -> None:
    text = "\n\n".join(
        " ".join(f"Sentence {p}-{s} mentions {WORDS[(p * 7 + s) % len(WORDS)]}." for s in range(6))
        for p in range(6)
    )
    chunks = chunk_document(text, 80, 20)
    assert len(chunks) > 2
    for prev, cur in zip(chunks, chunks[1:], strict=False):
        if cur.start < prev.end:  # has overlap
            overlap = normalize_text(text)[cur.start : prev.end]
            assert overlap.startswith("Sentence ")
            assert prev.content.endswith(overlap)


def test_a_long_word_is_cut_between_characters_only_when_nothing_else_is_possible() -> None:
    chunks = chunk_document("x" * 5000, 100, 10)
    assert all(c.tokens <= 100 for c in chunks)
    assert "".join(c.content for c in chunks) == "x" * 5000  # no overlap: pieces exceed it
    emoji = chunk_document("🙂" * 300, 50, 5)
    assert "".join(c.content for c in emoji) == "🙂" * 300  # never inside a character


@pytest.mark.parametrize("bad", [(0, 0), (100, 100), (100, -1)])
def test_chunking_parameters_are_validated(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        chunk_document("Hello.", *bad)


def _kb_paragraph(rng: random.Random, low: int, high: int) -> str:
    return " ".join(
        _sentence([rng.choice(WORDS) for _ in range(rng.randint(5, 25))], rng.choice(".!?"))
        for _ in range(rng.randint(low, high))
    )


def test_one_paragraph_edits_change_few_chunks_across_many_documents() -> None:
    """Regression guard for edit stability (plain greedy packing changes up to 10 chunks here)."""
    changed: list[int] = []
    for trial in range(120):
        rng = random.Random(trial)
        low, high = rng.choice([(1, 2), (2, 5), (4, 10), (1, 12)])
        doc = [_kb_paragraph(rng, low, high) for _ in range(rng.randint(8, 40))]
        old = {c.sha256 for c in chunk_document("\n\n".join(doc))}
        doc[rng.randrange(len(doc))] = _kb_paragraph(rng, low, high)
        changed.append(sum(c.sha256 not in old for c in chunk_document("\n\n".join(doc))))
    assert max(changed) <= 6
    assert statistics.mean(changed) < 2.0
