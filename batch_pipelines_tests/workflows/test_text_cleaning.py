"""Cleaning, sizing and cutting untrusted text (`batch_pipelines.workflows.text_cleaning`)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_pipelines.workflows.text_cleaning import (
    REPLACEMENT,
    clean_text,
    cut_marker,
    estimate_tokens,
    is_blank,
    truncate_middle,
)

_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ud800-\udfff]")

RTL_AND_EMOJI = (
    "שלום, אני רוצה לקבוע תור",  # Hebrew
    "مرحبا، أريد حجز موعد يوم الثلاثاء",  # Arabic
    "\u200fمرحبا\u200f then English",  # with right-to-left marks
    "👨\u200d👩\u200d👧\u200d👦 family, 👋🏽 wave, 🇬🇧 flag, ❤️ heart",  # ZWJ, skin tone, flags, VS16
    "日本語のテキスト and 한국어",
)


def test_control_characters_are_removed_but_tabs_and_newlines_kept() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x7fe\x85f\ufeffg") == "abcdefg"
    assert clean_text("Agent:\tHello\r\nCaller:\tHi\rAgent: Bye") == (
        "Agent:\tHello\nCaller:\tHi\nAgent: Bye"
    )


def test_blank_lines_and_trailing_spaces_are_collapsed() -> None:
    assert clean_text("  one   \n\n\n\n\n\ntwo  \n") == "one\n\n\ntwo"


def test_lone_surrogates_become_replacement_characters_and_pairs_are_joined() -> None:
    assert clean_text("ok \ud800 x \udfff") == f"ok {REPLACEMENT} x {REPLACEMENT}"
    assert clean_text("smile \ud83d\ude00") == "smile 😀"
    assert clean_text("a\udc80\udc81\udc82b") == f"a{REPLACEMENT}b"  # a run collapses to one


def test_undecodable_bytes_never_raise() -> None:
    assert clean_text(b"caf\xc3\xa9 \xff\xfe\xfd ok") == f"café {REPLACEMENT} ok"
    assert clean_text(None) == ""


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("cafÃ©", "café"),
        ("donâ€™t", "don’t"),
        ("Â£20 deposit", "£20 deposit"),
        ("naÃ¯ve rÃ©sumÃ©", "naïve résumé"),
        ("cafÃƒÂ©", "café"),  # mis-decoded twice
        ("emoji ðŸ˜€", "emoji 😀"),
    ],
)
def test_mojibake_is_repaired(broken: str, fixed: str) -> None:
    assert clean_text(broken) == fixed


@pytest.mark.parametrize(
    "text", ["café crème", "Müller", "São Paulo", "naïve", "Ångström", "Ã on its own", "1 ± 2 °C"]
)
def test_correct_accented_text_is_left_alone(text: str) -> None:
    assert clean_text(text) == text


@pytest.mark.parametrize("text", RTL_AND_EMOJI)
def test_rtl_text_and_emoji_are_kept(text: str) -> None:
    assert clean_text(text) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF)))
def test_any_text_cleans_to_encodable_text_without_controls(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogates left
    assert not _FORBIDDEN.search(cleaned)
    assert clean_text(cleaned) == cleaned  # idempotent


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_clean_without_raising(data: bytes) -> None:
    cleaned = clean_text(data)
    cleaned.encode("utf-8")
    assert not _FORBIDDEN.search(cleaned)


def test_blank_means_only_whitespace_or_replacement_characters() -> None:
    assert is_blank("")
    assert is_blank(f" \n\t{REPLACEMENT} ")
    assert not is_blank(" a ")


def test_token_estimate_is_utf8_bytes_over_four_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("é") == 1  # 2 bytes
    assert estimate_tokens("😀😀") == 2  # 8 bytes
    assert estimate_tokens("مرحبا") == 3  # 10 bytes


def test_text_within_budget_is_not_cut() -> None:
    cut = truncate_middle("short text", 10)
    assert (cut.text, cut.truncated, cut.omitted_chars) == ("short text", False, 0)


def test_cut_keeps_start_and_end_joined_by_a_visible_marker() -> None:
    words = [f"w{i}" for i in range(5000)]
    text = " ".join(["START"] + words + ["END"])
    cut = truncate_middle(text, 500)
    assert cut.truncated
    assert cut.text.startswith("START w0 w1")
    assert cut.text.endswith("w4998 w4999 END")
    head, marker, tail = cut.text.split("\n")
    assert marker == cut_marker(cut.omitted_chars)
    assert marker.startswith("[… transcript cut: ") and marker.endswith(" characters omitted …]")
    assert cut.omitted_chars == len(text) - len(head) - len(tail)
    assert estimate_tokens(cut.text) <= 500
    # First 60% / last 40% of what the marker leaves: the head is the larger part.
    assert len(head) > len(tail) > 0
    assert not head.endswith(" ") and head.split()[-1] in words  # cut between words


def test_cut_marker_label_is_configurable() -> None:
    cut = truncate_middle("x " * 2000, 100, label="notes")
    assert "[… notes cut: " in cut.text


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab cd\nمر😀👨\u200d👩é")), min_size=1, max_size=3000),
    st.integers(min_value=30, max_value=800),
    st.floats(min_value=0.1, max_value=0.9),
)
def test_cut_never_exceeds_the_budget_nor_splits_characters(
    text: str, budget: int, head_share: float
) -> None:
    cut = truncate_middle(text, budget, head_share=head_share)
    assert estimate_tokens(cut.text) <= budget
    cut.text.encode("utf-8")
    if cut.truncated:
        head, tail = cut.text.split(f"\n{cut_marker(cut.omitted_chars)}\n")
        assert text.startswith(head) and text.endswith(tail)
    else:
        assert cut.text == text


def test_budget_too_small_for_the_marker_is_an_error() -> None:
    with pytest.raises(ValueError, match="too small"):
        truncate_middle("x" * 1000, 5)
