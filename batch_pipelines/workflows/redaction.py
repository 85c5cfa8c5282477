"""PII redaction: replace personal data in free text with typed placeholders. Reusable by any workflow.

`redact_pii(text)` returns the redacted text and how many of each kind it replaced. The originals are
not kept anywhere — not in the result, not as hashes — so nothing redacted can be recovered from what
leaves this module. Kinds and their placeholders:

- `[EMAIL]`: addresses (`olivia.patel+spa@gmail.com`, Unicode local parts and domains too), and
  spoken ones as transcribed from speech (`olivia dot patel at gmail dot com`, `o.patel (at) gmail
  (dot) co (dot) uk`), when they end in a common top-level domain.
- `[CARD]`: 13–19 digits, not starting with 0, alone or in groups split by single spaces or dashes,
  that pass the Luhn check (`4111 1111 1111 1111`, `3782 822463 10005`). A digit string failing Luhn
  is not a card (it may still be redacted as another kind).
- `[NATIONAL_ID]`: US SSN-shaped `123-45-6789` / `123 45 6789`; UK National Insurance numbers
  `AB123456C` / `AB 12 34 56 C`; Spanish DNI-shaped `12345678Z`; and, only when the words
  "NHS" / "social security" / "SSN" come shortly before, 10-digit (NHS) or bare 9-digit (SSN) numbers.
- `[PHONE]`: numbers written with a `+` or `00` international prefix (8–15 digits); national numbers
  starting with a trunk `0` (10–11 digits: UK, most of Europe); North American numbers (10 digits, or
  11 starting with 1, brackets allowed: `(512) 555-0123`, `1-800-555-0199`); US local `555-0123`;
  and 9-digit numbers in three or more groups (`612 345 678`).

Digits are Unicode decimal digits, so Arabic-Indic and full-width numbers are covered too. Numbers
that match none of these shapes (prices, dates, times, years, quantities, order numbers of other
lengths) are left alone; spoken digits ("oh seven seven…") are not detected. Over-redaction is
preferred to a leak: a 10-digit order number becomes `[PHONE]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"
NATIONAL_ID = "NATIONAL_ID"
PII_KINDS = (EMAIL, PHONE, CARD, NATIONAL_ID)
PLACEHOLDERS: Mapping[str, str] = {kind: f"[{kind}]" for kind in PII_KINDS}
# Keys of the counts mapping (stored as request notes and on results): lowercase kind names.
COUNT_KEYS: Mapping[str, str] = {kind: kind.lower() for kind in PII_KINDS}


@dataclass(frozen=True)
class Redaction:
    """Redacted text and the number of replacements per kind (keys: `email`, `phone`, `card`,
    `national_id`; always all four)."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# --- e-mail -------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+'-])[\w%+'-]+(?:\.[\w%+'-]+)*@(?:[\w-]+\.)+[^\W\d_]{2,}(?![\w-])", re.UNICODE
)
_TLDS = (
    "com|net|org|edu|gov|mil|int|io|co|uk|us|ca|au|nz|ie|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|"
    "in|me|info|biz|email|mail|online|ai|app|dev|example|test"
)
_SPOKEN_AT = r"(?:\s+at\s+|\s*[\(\[]\s*at\s*[\)\]]\s*|\s*@\s*)"
_SPOKEN_DOT = r"(?:\s+dot\s+|\s*[\(\[]\s*dot\s*[\)\]]\s*|\.)"
_SPOKEN_JOIN = r"(?:\s+(?:dot|underscore|dash|hyphen)\s+|\s*[\(\[]\s*dot\s*[\)\]]\s*|[._-])"
# Segments exclude '_' so that a segment and a join can never match the same characters: that
# ambiguity would make a failing match backtrack exponentially on `a_a_a_a…`.
_SEGMENT = r"[^\W_]+"
# Spoken forms: "olivia dot patel at gmail dot com", "o.patel (at) gmail (dot) com".
# Repetitions are bounded (a local part of at most 6 segments, a domain of at most 4 labels) so a
# failed attempt costs a bounded amount at each word: "a dot a dot a dot …" stays linear.
_SPOKEN_EMAIL = re.compile(
    rf"(?<![\w.-]){_SEGMENT}(?:{_SPOKEN_JOIN}{_SEGMENT}){{0,5}}{_SPOKEN_AT}"
    rf"{_SEGMENT}(?:-{_SEGMENT}){{0,3}}(?:{_SPOKEN_DOT}{_SEGMENT}(?:-{_SEGMENT}){{0,3}}){{0,3}}"
    rf"{_SPOKEN_DOT}(?:{_TLDS})(?![\w-])",
    re.IGNORECASE | re.UNICODE,
)

# --- national ids with letters -----------------------------------------------------------------

# UK National Insurance: two letters, six digits (optionally in pairs), a suffix A–D.
# Upper case with optional spaces (`QQ 12 34 56 C`), or compact in any case (`qq123456c`): spaced
# lower case would match ordinary words followed by numbers.
_UK_NI = re.compile(
    r"(?<![\w])(?:[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]|(?i:[a-z]{2}\d{6}[a-d]))(?![\w])"
)
# Spanish DNI / NIE-shaped: 8 digits and a check letter (or X/Y/Z + 7 digits + letter).
_DNI = re.compile(r"(?<![\w])(?:\d{8}|[XYZ]\d{7})-?[A-Z](?![\w])")

# --- digit runs ---------------------------------------------------------------------------------

# A run of digit groups joined by one separator (space, dash, dot, or a dash with spaces), groups
# optionally in brackets, the first optionally after '+'. Cards, SSNs and phones are found in runs.
_GROUP = r"(?:\(\d+\)|\d+)"  # brackets only when balanced: `(0117)`, not `(0117`
_SPACE = "[ \t\u00a0\u202f]"  # incl. the (narrow) no-break spaces used to group digits
# One separator; none at all after a bracket, as in `+44 (0)117 496 0123`.
_SEP = rf"(?:{_SPACE}?[-–.]{_SPACE}?|{_SPACE}|(?<=\)))"
_RUN = re.compile(rf"(?<![\w+])\+?{_SPACE}?{_GROUP}(?:{_SEP}{_GROUP})*")
_GROUP_IN_RUN = re.compile(rf"\+?{_SPACE}?(?:\((\d+)\)|(\d+))")
_NHS_CONTEXT = re.compile(r"\bNHS\b", re.IGNORECASE)
_SSN_CONTEXT = re.compile(r"\b(?:SSN|social\s+security)\b", re.IGNORECASE)
_CONTEXT_WINDOW = 60


@dataclass(frozen=True)
class _Group:
    start: int  # offsets in the text, including brackets / '+'
    end: int
    digits: str
    plus: bool
    bracketed: bool


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(groups: list[_Group], text: str) -> bool:
    digits = "".join(g.digits for g in groups)
    # No payment card number starts with 0 (ISO/IEC 7812), which keeps `0044 …` phones out.
    if (
        not 13 <= len(digits) <= 19
        or digits[0] == "0"
        or any(g.plus or g.bracketed for g in groups)
    ):
        return False
    separators = {text[a.end : b.start] for a, b in zip(groups, groups[1:], strict=False)}
    return separators <= {" ", "-", "\u00a0", "\u202f"} and _luhn(digits)


def _is_national_id(groups: list[_Group], text: str) -> bool:
    if any(g.plus or g.bracketed for g in groups):
        return False
    shape = [len(g.digits) for g in groups]
    separators = {text[a.end : b.start] for a, b in zip(groups, groups[1:], strict=False)}
    if shape == [3, 2, 4] and len(separators) == 1 and separators <= {" ", "-"}:
        return True  # SSN-shaped
    before = text[max(0, groups[0].start - _CONTEXT_WINDOW) : groups[0].start]
    if shape in ([10], [3, 3, 4]) and _NHS_CONTEXT.search(before):
        return True
    return shape == [9] and bool(_SSN_CONTEXT.search(before))


def _is_phone(groups: list[_Group], text: str) -> bool:
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    if any(g.plus for g in groups[1:]):
        return False
    if groups[0].plus:
        return 8 <= n <= 15
    if digits.startswith("00"):
        return 10 <= n <= 17  # 00 + country code + number
    if digits.startswith("0"):
        return 10 <= n <= 11
    if n == 10 and digits[0] in "23456789":
        return True
    if n == 11 and digits[0] == "1" and digits[1] in "23456789":
        return True
    if n == 7 and [len(g.digits) for g in groups] == [3, 4]:
        return True
    return n == 9 and len(groups) >= 3


# Checked in this order at each position: the first kind with a match wins, longest span first.
# With each kind, the range of digit counts it can have: spans outside it are not even considered.
_NUMERIC_KINDS: tuple[tuple[str, Callable[[list[_Group], str], bool], int, int], ...] = (
    (CARD, _is_card, 13, 19),
    (NATIONAL_ID, _is_national_id, 9, 10),
    (PHONE, _is_phone, 7, 17),
)
_MAX_GROUPS = 8  # no kind spans more groups; bounds the search on long runs of numbers
_MIN_DIGITS = min(lo for _, _, lo, _ in _NUMERIC_KINDS)
_MAX_DIGITS = max(hi for _, _, _, hi in _NUMERIC_KINDS)


def _match_at(text: str, groups: list[_Group], i: int) -> tuple[str, int] | None:
    """The first kind, and the end of its longest span, of a PII number starting at group `i`."""
    # (end, digit count) of the spans starting at i with a plausible number of digits, longest first:
    # a bounded number per position keeps long runs of numbers linear.
    candidates: list[tuple[int, int]] = []
    digits = 0
    for j in range(i, min(len(groups), i + _MAX_GROUPS)):
        digits += len(groups[j].digits)
        if digits > _MAX_DIGITS:
            break
        if digits >= _MIN_DIGITS and not _glued(text, groups[i].start, groups[j].end):
            candidates.append((j + 1, digits))
    candidates.reverse()
    for kind, accepts, lo, hi in _NUMERIC_KINDS:
        for j, n in candidates:
            if lo <= n <= hi and accepts(groups[i:j], text):
                return kind, j
    return None


def _groups(text: str, start: int, end: int) -> list[_Group]:
    found = []
    for m in _GROUP_IN_RUN.finditer(text, start, end):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip("+ \t\u00a0\u202f"))
        found.append(
            _Group(
                start=m.start() + (0 if raw.startswith("+") else lead),
                end=m.end(),
                # ASCII, so that the shape rules below also hold for Arabic-Indic or full-width digits.
                digits=_ascii_digits(m.group(1) or m.group(2)),
                plus=raw.startswith("+"),
                bracketed="(" in raw or ")" in raw,
            )
        )
    return found


def _ascii_digits(digits: str) -> str:
    return digits if digits.isascii() else "".join(str(int(d)) for d in digits)


def _glued(text: str, start: int, end: int) -> bool:
    """True when the span continues a word, an amount, a decimal, a date or a time."""
    before = text[start - 1] if start > 0 else ""
    after = text[end : end + 2]
    if before and (before.isalnum() or before in "$£€¥_/:,@"):
        return True
    if before == "." and start > 1 and text[start - 2].isdigit():
        return True
    return bool(after) and (
        after[0].isalnum() or after[0] in "_@%" or (after[0] in "/:,.-" and after[1:2].isdigit())
    )


def _redact_numbers(text: str, counts: dict[str, int], digit_runs: list[tuple[int, int]]) -> str:
    spans: list[tuple[int, int, str]] = []
    for run in _matches_at(_RUN, text, _run_starts(text, _runs_in_long_numbers(digit_runs))):
        if sum(c.isdigit() for c in run.group(0)) < _MIN_DIGITS:
            continue  # the common case: a year, a price, a time
        groups = _groups(text, run.start(), run.end())
        i = 0
        while i < len(groups):
            found = _match_at(text, groups, i)
            if found is None:
                i += 1
                continue
            kind, j = found
            spans.append((groups[i].start, groups[j - 1].end, kind))
            i = j
    out, last = [], 0
    for start, end, kind in spans:
        out.append(text[last:start])
        out.append(PLACEHOLDERS[kind])
        counts[kind] += 1
        last = end
    out.append(text[last:])
    return "".join(out)


# --- where matches can start ---------------------------------------------------------------------
#
# Scanning a whole transcript with each pattern tries a match at every character, and that is most
# of the cost of redaction. Every pattern here can only match where something rarer is: an '@', a
# run of digits, a top-level domain after a (spoken) dot. So each pass lists the positions where a
# match could start (a superset of them), and tries the pattern only there, leftmost first,
# skipping those inside a previous match: that is exactly the sequence of matches `finditer` and
# `sub` find, because no other position can start a match. Lookbehinds still see the whole text.

_DIGITS = re.compile(r"\d+")
_LOCAL_BACKWARDS = re.compile(r"[\w.%+'-]*")  # the local-part characters of `_EMAIL`, reversed
# The end of a spoken e-mail: the spoken dot and top-level domain that `_SPOKEN_EMAIL` ends with.
_SPOKEN_TAIL = re.compile(rf"{_SPOKEN_DOT}(?:{_TLDS})(?![\w-])", re.IGNORECASE | re.UNICODE)
# In one scan: each run of digits (whole), and each '.' before a letter, where a `_SPOKEN_TAIL`
# can be. The pattern starts with a character set, which makes the scan quick.
_LANDMARKS = re.compile(r"[\d.](?:(?<=\d)\d*+|(?<=\.)(?=[^\W\d_]))")
# The other place one can be: "dot" in any case (no other character matches d, o or t ignoring
# case), looked for only in text that has one.
_DOT_WORD = re.compile(r"[dD][oO][tT]")
_DOT_SPELLINGS = tuple(a + b + c for a in "dD" for b in "oO" for c in "tT")
_OPENING = "(["
# A spoken e-mail holds at most 40 runs of white space (5 joins and 4 dots of up to 4 runs each,
# an 'at' of up to 4), so it starts within the 41 words before its end. Read backwards.
_SPOKEN_WORDS_BACKWARDS = re.compile(r"(?:\S*+\s++){0,40}\S*+")


def _matches_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match]:
    """The matches `pattern.finditer(text)` finds, given (sorted) positions that include every
    position where a match can start."""
    last = 0
    for start in starts:
        if start < last:
            continue
        match = pattern.match(text, start)
        if match is not None:
            yield match
            last = match.end()


# Two digits of one `_RUN` are at most 5 characters apart: ')', a separator of up to 3, '('.
_MAX_GAP_IN_RUN = 5


def _runs_in_long_numbers(digit_runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The digit runs of clusters (runs at most `_MAX_GAP_IN_RUN` apart) that hold `_MIN_DIGITS`
    digits or more. A `_RUN` lies inside one cluster, so one with enough digits to be redacted is
    in these; and the matches of one cluster cannot reach the candidates of another (each starts at
    most 3 characters before its first digit, and ends at most 1 after its last)."""
    kept: list[tuple[int, int]] = []
    cluster: list[tuple[int, int]] = []
    digits = 0
    for run in digit_runs:
        if cluster and run[0] - cluster[-1][1] > _MAX_GAP_IN_RUN:
            if digits >= _MIN_DIGITS:
                kept.extend(cluster)
            cluster, digits = [], 0
        cluster.append(run)
        digits += run[1] - run[0]
    if digits >= _MIN_DIGITS:
        kept.extend(cluster)
    return kept


_RUN_LEADS = frozenset("+(" + " \t\u00a0\u202f")  # what a `_RUN` can have before its first digit


def _run_starts(text: str, digit_runs: list[tuple[int, int]]) -> list[int]:
    """Where a `_RUN` can start: at a run of digits, or up to 3 characters before it ('+', one
    space, '(') where those characters are of that kind (sorted)."""
    starts = []
    for run, _end in digit_runs:
        lead = run
        while lead > run - 3 and lead > 0 and text[lead - 1] in _RUN_LEADS:
            lead -= 1
        starts.extend(range(lead, run + 1))
    return sorted(set(starts))


def _sub_at(
    pattern: re.Pattern[str], kind: str, text: str, starts: Iterable[int], counts: dict[str, int]
) -> str:
    """`pattern.sub` with the kind's placeholder (counted), where matches can only start at
    `starts` (sorted)."""
    out, last = [], 0
    for match in _matches_at(pattern, text, starts):
        out.append(text[last : match.start()])
        out.append(PLACEHOLDERS[kind])
        counts[kind] += 1
        last = match.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _email_starts(text: str) -> list[int]:
    """Where an `_EMAIL` can start: at the start of the run of local-part characters before an '@'
    (its lookbehind allows no such character before the start, and only they come before the '@')."""
    backwards = text[::-1]
    size = len(text)
    starts = []
    at = text.find("@")
    while at >= 0:
        starts.append(at - len(_LOCAL_BACKWARDS.match(backwards, size - at).group(0)))
        at = text.find("@", at + 1)
    return starts


def _redact_spoken_emails(text: str, counts: dict[str, int], hints: list[int]) -> str:
    """`_SPOKEN_EMAIL.sub` (counted), with the pattern tried only in the words before a spoken top-level
    domain (every match ends at one; finditer finds every end, as no two can overlap)."""
    ends = _spoken_tail_ends(text, hints)
    if not ends:
        return text
    backwards = text[::-1]
    size = len(text)
    # Windows [first start, last end] of the matches that can end at each end, overlapping ones
    # merged: a match starting in a window ends at an end inside it.
    windows: list[list[int]] = []
    for end in ends:
        start = end - len(_SPOKEN_WORDS_BACKWARDS.match(backwards, size - end).group(0))
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    out, last = [], 0
    for start, end in windows:
        # One character past the window's last end, so its lookahead sees what follows: a match
        # cannot end there (the last end is followed by neither a word character nor '-').
        endpos = min(size, end + 1)
        pos = max(start, last)
        while (match := _SPOKEN_EMAIL.search(text, pos, endpos)) is not None:
            out.append(text[last : match.start()])
            out.append(PLACEHOLDERS[EMAIL])
            counts[EMAIL] += 1
            last = pos = match.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _spoken_tail_ends(text: str, hints: list[int]) -> list[int]:
    """The end of every `_SPOKEN_TAIL` match in `text` (sorted), given the hints of `_landmarks`:
    those at a '.', and those of each "dot" from the white space or the bracket before it."""
    ends = set()
    for at in hints:
        if text[at] == ".":
            starts = [at]
        else:
            starts = []
            before = at
            while before > 0 and text[before - 1].isspace():
                before -= 1
            if before < at:
                starts.append(at - 1)  # `\s+dot\s+`
            if before > 0 and text[before - 1] in _OPENING:
                starts.append(before - 1)  # `\s*[(\[]\s*dot\s*[)\]]\s*`
        for start in starts:
            match = _SPOKEN_TAIL.match(text, start)
            if match is not None:
                ends.add(match.end())
    return sorted(ends)


def _landmarks(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    """The runs of digits (start, end), and where `_SPOKEN_TAIL` hints are ('.' or 'dot')."""
    runs: list[tuple[int, int]] = []
    hints: list[int] = []
    for match in _LANDMARKS.finditer(text):
        if text[match.start()] == ".":
            hints.append(match.start())
        else:
            runs.append(match.span())
    if any(spelling in text for spelling in _DOT_SPELLINGS):
        hints.extend(m.start() for m in _DOT_WORD.finditer(text))
        hints.sort()
    return runs, hints


def _digit_runs(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _DIGITS.finditer(text)]


def _ni_starts(text: str, runs: list[tuple[int, int]]) -> list[int]:
    """Where a `_UK_NI` can start: two letters right before a run of at least 2 digits, or two
    letters and a space (sorted)."""
    starts = set()
    for run, end in runs:
        if end - run < 2 or run < 2:
            continue
        if text[run - 2].isalpha() and text[run - 1].isalpha():
            starts.add(run - 2)
        elif (
            run >= 3
            and text[run - 1] == " "
            and text[run - 3].isalpha()
            and text[run - 2].isalpha()
        ):
            starts.add(run - 3)
    return sorted(starts)


def _dni_starts(text: str, runs: list[tuple[int, int]]) -> list[int]:
    """Where a `_DNI` can start: at a run of at least 8 digits, or at an X, Y or Z right before a
    run of at least 7 (sorted)."""
    starts = []
    for run, end in runs:
        if end - run >= 7 and run >= 1 and text[run - 1] in "XYZ":
            starts.append(run - 1)
        if end - run >= 8:
            starts.append(run)
    return starts


def redact_pii(text: str) -> Redaction:
    """Replace e-mail addresses, card numbers, national-id-like numbers and phone numbers in `text`
    with `[EMAIL]`, `[CARD]`, `[NATIONAL_ID]`, `[PHONE]` (see the module docstring for the shapes)."""
    counts = dict.fromkeys(PII_KINDS, 0)
    # E-mails first (they may contain digits that would otherwise look like phone numbers), then the
    # national ids that contain letters, then digit runs. Placeholders hold no digits, so no later
    # pass can match inside an earlier placeholder. Each pass tries its pattern only where a match
    # can start (see `_matches_at`), which gives the same matches as scanning the whole text.
    if "@" in text:
        text = _sub_at(_EMAIL, EMAIL, text, _email_starts(text), counts)
    runs, hints = _landmarks(text)
    if hints:
        before = counts[EMAIL]
        text = _redact_spoken_emails(text, counts, hints)
        if counts[EMAIL] != before:
            runs = _digit_runs(text)
    if runs:
        # A UK NI number's digits start 2 or 3 characters in; a DNI's at 0 or 1; a run's at 0 to 3.
        before = counts[NATIONAL_ID]
        text = _sub_at(_UK_NI, NATIONAL_ID, text, _ni_starts(text, runs), counts)
        if counts[NATIONAL_ID] != before:
            runs = _digit_runs(text)
            before = counts[NATIONAL_ID]
        text = _sub_at(_DNI, NATIONAL_ID, text, _dni_starts(text, runs), counts)
        if counts[NATIONAL_ID] != before:
            runs = _digit_runs(text)
        text = _redact_numbers(text, counts, runs)
    return Redaction(text=text, counts={COUNT_KEYS[k]: v for k, v in counts.items()})
