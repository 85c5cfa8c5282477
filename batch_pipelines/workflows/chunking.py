"""Sentence-aware, edit-stable chunking of knowledge-base documents for embedding.

`chunk_document(text)` cuts a document into chunks of at most `target_tokens` (default 400) that
carry up to `overlap_tokens` (default 60) of the preceding text as context. It is deterministic:
the same text always gives the same chunks and the same hashes, which is what lets `kb_index`
embed only the chunks whose hash changed.

Token estimate: ``ceil(len(text.encode("utf-8")) / 4)``, one token per four UTF-8 bytes rounded up.
It over-counts real BPE tokenizers slightly for English and more for CJK scripts, which keeps every
chunk safely under the embedding model's 8,192-token input limit. (It is the same formula as
`text_cleaning.estimate_tokens`; it is repeated here on purpose, because chunk boundaries and hashes
must not move when another module's estimate is tuned: that would re-embed every document.)

The rules, in order:

1. Normalise: NFC, and ``\\r\\n`` / ``\\r`` become ``\\n``. Chunk contents are slices of this text.
2. Paragraphs are separated by blank lines. Sentences end at ``. ! ? …`` (plus closing quotes or
   brackets) followed by whitespace and a character that is not a lower-case letter, except after
   a common abbreviation (``Dr.``, ``e.g.``, ``etc.``) or an initial (``J.``). A line break is a
   sentence boundary after ``:`` or ``;`` and around list items (``- ``, ``* ``, ``1. ``, ``# ``);
   other line breaks (hard-wrapped prose) stay inside the sentence.
3. Units: a paragraph that fits the *budget* (``target_tokens - overlap_tokens``, so that a chunk
   with its overlap still fits the target) is one unit. A longer paragraph is cut, between
   sentences, into pieces that fit the budget. A sentence is never cut unless it alone exceeds
   the target; then it is cut at whitespace (inside a word only if one word exceeds the budget).
4. Groups: consecutive units are packed into one chunk while the chunk fits the budget and the
   previous unit is not an *anchor*. Whether a unit is an anchor depends on its own text only:
   ``sha256(unit) / 2**256 < tokens(unit) / budget`` (so anchors occur about once per budget of
   text, whatever the paragraph sizes).
5. Overlap: each chunk but the first starts with the last whole sentences of the previous chunk's
   own text, as many as fit in `overlap_tokens` (and in the target).

Why anchors: plain greedy packing lets one edited paragraph shift every later boundary, so every
later chunk would be re-embedded. Here boundaries sit at paragraph breaks; the chunks before the one
holding the preceding paragraph cannot change (packing looks one unit ahead, no further), and the
chunks after the edit fall back onto the old boundaries at the first anchor after it, since an
anchor always ends a chunk. Overlap comes from the previous chunk only. A one-paragraph edit thus
changes the chunk holding it, possibly its neighbours, and the chunks up to the next anchor
(usually none): under two chunks on average, whatever the document's length (see the tests).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "DEFAULT_OVERLAP_TOKENS",
    "DEFAULT_TARGET_TOKENS",
    "Chunk",
    "chunk_document",
    "estimate_tokens",
    "normalize_text",
    "split_paragraphs",
    "split_sentences",
]

DEFAULT_TARGET_TOKENS = 400
DEFAULT_OVERLAP_TOKENS = 60
_BYTES_PER_TOKEN = 4

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Candidate sentence ends: terminal punctuation (+ closers) before whitespace, or a line break.
_CANDIDATE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*•·–]|\d{1,3}[.)]|#{1,6})[ \t]")
_ENUMERATOR = re.compile(r"[ \t]*(?:\d{1,3}|[A-Za-z])[.)]")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_ABBREVIATIONS = frozenset(
    ("mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "etc", "e.g", "i.e", "eg", "ie",
     "no", "nos", "fig", "approx", "inc", "ltd", "co", "dept", "est", "tel", "ave", "rd", "mt",
     "ft", "cf", "al")
)  # fmt: skip
_WORD = re.compile(r"\S+")


def estimate_tokens(text: str) -> int:
    """``ceil(utf-8 bytes / 4)``: the chunker's token estimate (see the module docstring)."""
    return -(-len(text.encode("utf-8")) // _BYTES_PER_TOKEN)


def normalize_text(text: str) -> str:
    """NFC with ``\\n`` line ends: the text that chunk offsets and contents refer to."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


@dataclass(frozen=True)
class Chunk:
    """One chunk: `content` is ``normalize_text(doc)[start:end]`` (overlap included)."""

    index: int
    content: str
    sha256: str
    start: int
    end: int

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.content)


Span = tuple[int, int]


def _strip_span(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_paragraphs(text: str) -> list[Span]:
    """Spans of the paragraphs of (normalised) `text`, whitespace trimmed, in order."""
    spans: list[Span] = []
    start = 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        if (span := _strip_span(text, start, m.start())) is not None:
            spans.append(span)
        start = m.end()
    if (span := _strip_span(text, start, len(text))) is not None:
        spans.append(span)
    return spans


def _is_sentence_end(text: str, m: re.Match[str], para_start: int, para_end: int) -> bool:
    if m.group() == "\n":
        line_start = max(text.rfind("\n", para_start, m.start()) + 1, para_start)
        previous = text[line_start : m.start()].rstrip()
        if previous.endswith((":", ";")) or _LIST_ITEM.match(text, line_start, m.start()):
            return True
        return bool(_LIST_ITEM.match(text, m.end(), para_end))
    after = m.end()
    while after < para_end and text[after].isspace():
        after += 1
    if after >= para_end:
        return True
    if text[after].islower():
        return False
    line_start = max(text.rfind("\n", para_start, m.start()) + 1, para_start)
    if _ENUMERATOR.fullmatch(text, line_start, m.end()):
        return False  # "1. First step": the list item's number, not a sentence
    if m.group().startswith(".") and m.group().rstrip("\"'”’)]") == ".":
        word = _WORD_BEFORE.search(text, para_start, m.start())
        if word is not None:
            w = word.group(1).lower()
            if len(w) == 1 or w in _ABBREVIATIONS:
                return False
    return True


def split_sentences(text: str, start: int, end: int) -> list[Span]:
    """Spans of the sentences of the paragraph ``text[start:end]`` (see rule 2)."""
    spans: list[Span] = []
    cursor = start
    for m in _CANDIDATE_END.finditer(text, start, end):
        if _is_sentence_end(text, m, start, end):
            cut = m.start() if m.group() == "\n" else m.end()
            if (span := _strip_span(text, cursor, cut)) is not None:
                spans.append(span)
            cursor = cut
    if (span := _strip_span(text, cursor, end)) is not None:
        spans.append(span)
    return spans


def _tokens(text: str, start: int, end: int) -> int:
    return estimate_tokens(text[start:end])


def _cut_long(text: str, start: int, end: int, limit: int) -> list[Span]:
    """Cut an over-long sentence into pieces of at most `limit` tokens, at whitespace when a word
    boundary is available, otherwise between characters."""
    pieces: list[Span] = []
    piece_start: int | None = None
    piece_end = start
    for w in _WORD.finditer(text, start, end):
        ws, we = w.start(), w.end()
        if piece_start is not None and _tokens(text, piece_start, we) <= limit:
            piece_end = we
            continue
        if piece_start is not None:
            pieces.append((piece_start, piece_end))
            piece_start = None
        if _tokens(text, ws, we) <= limit:
            piece_start, piece_end = ws, we
            continue
        # One word longer than the limit: cut it between characters, never inside one.
        cursor = ws
        while cursor < we:
            stop = cursor + 1
            budget = limit * _BYTES_PER_TOKEN - len(text[cursor].encode("utf-8"))
            while stop < we and budget >= len(text[stop].encode("utf-8")):
                budget -= len(text[stop].encode("utf-8"))
                stop += 1
            if stop < we:
                pieces.append((cursor, stop))
            else:
                piece_start, piece_end = cursor, stop
            cursor = stop
    if piece_start is not None:
        pieces.append((piece_start, piece_end))
    return pieces


def _is_anchor(text: str, span: Span, budget: int) -> bool:
    digest = hashlib.sha256(text[span[0] : span[1]].encode("utf-8")).digest()
    # h / 2**256 < tokens / budget, in exact integer arithmetic (no float rounding across platforms)
    return int.from_bytes(digest, "big") * budget < _tokens(text, *span) << 256


def chunk_document(
    text: str,
    target_tokens: int = DEFAULT_TARGET_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[Chunk]:
    """Chunks of `text` (see the module docstring for the rules). Every chunk's estimate is at
    most `target_tokens`; a blank text has no chunks."""
    if target_tokens < 1:
        raise ValueError("target_tokens must be at least 1")
    if not 0 <= overlap_tokens < target_tokens:
        raise ValueError("overlap_tokens must be in [0, target_tokens)")
    text = normalize_text(text)
    budget = target_tokens - overlap_tokens

    atoms: list[Span] = []  # sentences, over-long ones already cut: the overlap's granularity
    units: list[Span] = []
    for p_start, p_end in split_paragraphs(text):
        sentences: list[Span] = []
        for s in split_sentences(text, p_start, p_end):
            if _tokens(text, *s) > target_tokens:
                sentences.extend(_cut_long(text, s[0], s[1], budget))
            else:
                sentences.append(s)
        atoms.extend(sentences)
        if _tokens(text, p_start, p_end) <= budget:
            units.append((p_start, p_end))
            continue
        piece: Span | None = None
        for s in sentences:
            if piece is not None and _tokens(text, piece[0], s[1]) <= budget:
                piece = (piece[0], s[1])
            else:
                if piece is not None:
                    units.append(piece)
                piece = s
        if piece is not None:
            units.append(piece)

    groups: list[Span] = []
    current: Span | None = None
    cut_after_current = False
    for unit in units:
        if current is not None and (
            cut_after_current or _tokens(text, current[0], unit[1]) > budget
        ):
            groups.append(current)
            current = None
        current = unit if current is None else (current[0], unit[1])
        cut_after_current = _is_anchor(text, unit, budget)
    if current is not None:
        groups.append(current)

    chunks: list[Chunk] = []
    atom_i = 0  # atoms[:atom_i] end at or before the current group's start
    for index, (g_start, g_end) in enumerate(groups):
        while atom_i < len(atoms) and atoms[atom_i][1] <= g_start:
            atom_i += 1
        # Overlap comes from the previous group only, so a chunk depends on two groups at most.
        floor = groups[index - 1][0] if index else g_start
        start = g_start
        j = atom_i - 1
        while j >= 0 and atoms[j][0] >= floor:
            candidate = atoms[j][0]
            if (
                _tokens(text, candidate, g_start) > overlap_tokens
                or _tokens(text, candidate, g_end) > target_tokens
            ):
                break
            start = candidate
            j -= 1
        content = text[start:g_end]
        chunks.append(
            Chunk(
                index=index,
                content=content,
                sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(),
                start=start,
                end=g_end,
            )
        )
    return chunks
