"""Cleaning, sizing and cutting untrusted text before it goes into a prompt. Reusable by any workflow.

Cleaning (`clean_text`) never raises, whatever it is given (str with lone surrogates, bytes in an
unknown encoding, NULs, mojibake), and keeps what is meaningful: every script (RTL included), emoji and
their joiners, tabs and newlines. In order:

1. bytes are decoded as UTF-8, undecodable bytes becoming U+FFFD;
2. surrogates are resolved: a valid high+low pair becomes its character, a lone one becomes U+FFFD
   (Postgres and strict JSON encoders such as orjson reject lone surrogates);
3. `\\r\\n` and lone `\\r` become `\\n`;
4. until nothing changes (at most five passes): control characters (C0 except tab and newline, DEL,
   C1), the byte-order mark and Unicode noncharacters are removed; UTF-8 text that was mis-decoded as
   Windows-1252/Latin-1 (`cafÃ©`, `donâ€™t`, `Â£20`) is repaired, sequence by sequence, only where
   the bytes form valid UTF-8 again (anything else is left alone); the text is NFC-normalised;
5. runs of U+FFFD collapse to one, trailing spaces are stripped from lines, more than two
   consecutive blank lines collapse to two, and the whole is stripped.

Token estimate (`estimate_tokens`): `ceil(len(text.encode("utf-8")) / 4)`, one token per four UTF-8
bytes, rounded up. It is the estimate the emulator bills with; for English it over-counts real BPE
tokenizers slightly, for CJK/RTL scripts it over-counts more, which errs on the safe side of a budget.

Truncation rule (`truncate_middle`): a text whose estimate is within the budget is returned as is.
Otherwise the start and the end are kept — the first `head_share` (default 60%) and the last 40% of
the budget left after reserving room for the marker — cut back to a whitespace boundary when one is
near (so words are not split) and never inside a character, and joined on their own lines by the
visible marker `[… {label} cut: N characters omitted …]`. The result's estimate never exceeds the
budget.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass

REPLACEMENT = "\ufffd"

# Characters a Windows-1252 (or, for the five bytes it leaves undefined, Latin-1) decoder produces for
# the bytes 0x80–0xBF: the continuation bytes of UTF-8. Mapping back from them recovers the bytes.
_CONTINUATION_CHARS: dict[str, int] = {}
for _byte in range(0x80, 0xC0):
    try:
        _CONTINUATION_CHARS[bytes([_byte]).decode("cp1252")] = _byte
    except UnicodeDecodeError:
        _CONTINUATION_CHARS[chr(_byte)] = _byte
_CONT = "[" + "".join(re.escape(c) for c in _CONTINUATION_CHARS) + "]"
# A lead byte (0xC2–0xF4, identical in cp1252 and Latin-1) followed by exactly its continuations.
_MOJIBAKE = re.compile(
    f"(?:[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}})+"
)

# C0 controls except \t and \n (\r is normalised before), DEL, C1 controls, BOM, and noncharacters.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)
_MAX_PASSES = 5
_REPLACEMENT_RUN = re.compile(f"{REPLACEMENT}{{2,}}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{4,}")


def _resolve_surrogates(text: str) -> str:
    # UTF-16 with surrogatepass joins valid pairs; decoding with "replace" turns lone halves into U+FFFD.
    try:
        text.encode("utf-8")
        return text  # the common case: no surrogates at all
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _unmojibake(match: re.Match[str]) -> str:
    chunk = match.group(0)
    # Lead characters (U+00C2–U+00F4) are their own byte in both code pages; continuations map back.
    data = bytes(_CONTINUATION_CHARS.get(char, ord(char)) for char in chunk)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return chunk


def clean_text(value: str | bytes | None) -> str:
    """Return `value` as clean text (see the module docstring for the exact rules). Never raises."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", "replace")
    else:
        text = str(value)
    text = _resolve_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    if not _is_settled(text):
        # Each step can expose work for another (removing a control character can join a mojibake
        # sequence; a repair can produce a C1 control or a decomposed character), so they run
        # until nothing changes. Every step shortens or normalises the text, so this ends quickly.
        for _ in range(_MAX_PASSES):
            before = text
            text = _CONTROL.sub("", text)
            text = _MOJIBAKE.sub(_unmojibake, text)
            text = unicodedata.normalize("NFC", text)
            if text == before:
                break
        text = _CONTROL.sub("", text)
    # Each substitution only where the cheap test says it can match (most text needs none).
    if REPLACEMENT * 2 in text:
        text = _REPLACEMENT_RUN.sub(REPLACEMENT, text)
    if " \n" in text or "\t\n" in text or text.endswith((" ", "\t")):
        text = _TRAILING_SPACE.sub("", text)
    if "\n\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n\n", text)
    return text.strip()


def _is_settled(text: str) -> bool:
    """True when the repair loop of `clean_text` would leave `text` as it is, tested one distinct
    character at a time (`_settled_char`) with the answers kept: one pass over the text in C."""
    if _SETTLED_CHARS.issuperset(text):
        return True
    for char in set(text).difference(_SETTLED_CHARS):
        if char in _UNSETTLED_CHARS or not _settled_char(char):
            return False
    return True


# Characters known to be settled (or not); bounded so that odd input cannot grow them forever.
_SETTLED_CHARS: set[str] = {chr(c) for c in range(0x20, 0x7F)} | {"\t", "\n"}
_UNSETTLED_CHARS: set[str] = set()
_MAX_KNOWN_CHARS = 20_000


def _settled_char(char: str) -> bool:
    """Whether no step of the repair loop can change `char`, nor a text whose characters all are
    such: printable (the loop removes only non-printable characters: controls, the BOM,
    noncharacters), not a lead of a mojibake sequence (U+00C2-U+00F4), and NFC by the quick
    check (canonical combining class 0, NFC_Quick_Check Yes: not changed by NFC alone, never
    composed with what precedes it), so that any text of such characters is NFC."""
    settled = (
        char.isprintable()
        and not "\u00c2" <= char <= "\u00f4"
        and unicodedata.combining(char) == 0
        and char not in _nfc_maybe()
        and unicodedata.normalize("NFC", char) == char
    )
    known = _SETTLED_CHARS if settled else _UNSETTLED_CHARS
    if len(known) < _MAX_KNOWN_CHARS:
        known.add(char)
    return settled


# No character after this one has a decomposition (U+2FA1D, the last CJK compatibility ideograph;
# a test checks it against the running Python's Unicode data).
_LAST_DECOMPOSABLE = 0x2FA1D


@functools.cache
def _nfc_maybe() -> frozenset[str]:
    """The characters whose NFC_Quick_Check is Maybe: those that can compose with the character
    before them (the second of a canonical pair; Hangul medial vowels and final consonants)."""
    found = {chr(c) for c in range(0x1161, 0x1176)} | {chr(c) for c in range(0x11A8, 0x11C3)}
    for code in range(_LAST_DECOMPOSABLE + 1):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                found.add(chr(int(parts[1], 16)))
    return frozenset(found)


def is_blank(text: str) -> bool:
    """True when `text` has nothing but whitespace and replacement characters."""
    return not text.replace(REPLACEMENT, "").strip()


def estimate_tokens(text: str) -> int:
    """Tokens by the documented estimate: ceil(UTF-8 bytes / 4)."""
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / 4)


def cut_marker(omitted_chars: int, label: str = "transcript") -> str:
    """The visible marker that replaces the middle of a cut text."""
    return f"[… {label} cut: {omitted_chars:,} characters omitted …]"


@dataclass(frozen=True)
class Cut:
    """The outcome of `truncate_middle`."""

    text: str
    truncated: bool
    omitted_chars: int = 0


# How far (in characters) a cut may move back to land on whitespace instead of inside a word.
_WORD_BOUNDARY_WINDOW = 80


def _head(data: bytes, size: int) -> str:
    text = data[:size].decode("utf-8", "ignore")  # "ignore" drops a character split by the cut
    cut = max(text.rfind(" "), text.rfind("\n"))
    if cut >= 0 and len(text) - cut <= _WORD_BOUNDARY_WINDOW:
        text = text[:cut]
    return text.rstrip()


def _tail(data: bytes, size: int) -> str:
    if size <= 0:
        return ""
    text = data[len(data) - size :].decode("utf-8", "ignore")
    spaces = [i for i in (text.find(" "), text.find("\n")) if i >= 0]
    if spaces and min(spaces) < _WORD_BOUNDARY_WINDOW:
        text = text[min(spaces) + 1 :]
    return text.lstrip()


def truncate_middle(
    text: str, budget_tokens: int, *, head_share: float = 0.6, label: str = "transcript"
) -> Cut:
    """Cut `text` to at most `budget_tokens` (estimate) by keeping its start and end (module rule)."""
    if budget_tokens <= 0:
        raise ValueError("budget_tokens must be positive")
    if not 0.0 < head_share < 1.0:
        raise ValueError("head_share must be between 0 and 1")
    if estimate_tokens(text) <= budget_tokens:
        return Cut(text=text, truncated=False)
    data = text.encode("utf-8")
    # Reserve the marker at its largest (every character omitted) plus the two newlines around it.
    reserved = len(cut_marker(len(text), label).encode("utf-8")) + 2
    room = budget_tokens * 4 - reserved
    if room <= 0:
        raise ValueError(f"budget of {budget_tokens} tokens is too small to hold the cut marker")
    head = _head(data, int(room * head_share))
    tail = _tail(data, room - int(room * head_share))
    omitted = len(text) - len(head) - len(tail)
    return Cut(
        text=f"{head}\n{cut_marker(omitted, label)}\n{tail}", truncated=True, omitted_chars=omitted
    )
