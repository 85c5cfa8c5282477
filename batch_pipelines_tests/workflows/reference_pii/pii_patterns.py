"""Frozen copy of `batch_pipelines.workflows.pii_patterns` (see `__init__`).

Pattern detectors of personal data: each finds spans of one or more kinds in a text, with a key
(the value normalised) so the same value gets the same placeholder. `workflows.redaction` runs them
and resolves overlaps; person names are `workflows.pii_names`.

Kinds (the order is the priority when two spans overlap):

- `EMAIL`: addresses (`olivia.patel+spa@gmail.com`, Unicode too), and spoken ones as transcribed
  from speech (`olivia dot patel at gmail dot com`, `dana underscore whitfield at outlook dot com`,
  `o.patel (at) gmail (dot) co (dot) uk`), when they end in a common top-level domain.
- `IBAN`: two letters, two check digits and the account, grouped or not, that pass the ISO 13616
  check (`python-stdnum`'s `iban`).
- `CARD`: 13-19 digits, not starting with 0, alone or in groups split by single spaces or dashes,
  that pass the Luhn check (`4111 1111 1111 1111`, `3782 822463 10005`), written or spoken; and
  the expiry date and security code said after "expiry", "expires", "security code", "CVC".
- `NATIONAL_ID`: US SSN-shaped `123-45-6789`; UK National Insurance numbers `AB123456C` /
  `AB 12 34 56 C`; Spanish DNI/NIE `12345678Z`; and, when "NHS" / "social security" / "SSN" /
  "national insurance" come shortly before, 10-digit NHS or 9-digit SSN numbers (written or spoken).
- `MEMBER_ID`: insurance member, policy, patient, MRN, medical-record, account and claim numbers:
  after such a word, a token of 5 or more characters with 4 or more digits (`YFE738747424`,
  `MRN 00482913`, or spoken digits); and, whatever precedes them, 1-4 capitals and 7-12 digits.
- `DOB`: dates of birth and other dates tied to a person: a full date (day, month and year; written
  `26/06/1980`, `1980-06-26`, `June 26, 1980`, `26th of June 1980`, or spoken "the twenty-sixth of
  June nineteen eighty") whose year is two or more years back, or any date (year or not) within a
  few words of "date of birth", "DOB", "born", "birthday", "admitted", "discharged", "died".
  Appointment dates and times ("Thursday at 8:15 AM", "June 3rd") stay.
- `PHONE`: numbers with a `+` or `00` prefix (8-15 digits); national numbers with a trunk `0`
  (10-11 digits); North American numbers (`(512) 555-0123`, `1-800-555-0199`, `555-0123`); 9-digit
  numbers in three or more groups; any other 8-12 digits that Google's libphonenumber
  (`phonenumbers`) calls a valid number of a common region (dates and lists of years excepted); and
  numbers read out as words ("four one five, five five five, oh one two three", "double seven").
- `ADDRESS`: street addresses (a house number, up to three words and a street word: `22 Victoria
  Road`, `4821 Maple Drive, Austin, TX 78704`, `Flat 3, 9 Kingsway`, spoken house numbers), a street
  after "I live on" / "address is", UK postcodes (`BS8 4QT`) and US ZIP codes after a state or
  "zip code". A city or a street name alone stays.

Digits are Unicode decimal digits, so Arabic-Indic and full-width numbers are covered too. Numbers
that match none of these (prices, times, years, quantities, booking references and order numbers
shorter than 8 digits) stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn as stdnum_luhn

from batch_pipelines_tests.workflows.reference_pii.pii_names import Word, split_words, word_set

EMAIL = "EMAIL"
IBAN = "IBAN"
CARD = "CARD"
NATIONAL_ID = "NATIONAL_ID"
MEMBER_ID = "MEMBER_ID"
PHONE = "PHONE"
DOB = "DOB"
ADDRESS = "ADDRESS"
NAME = "NAME"
# Every kind, in the order of priority of overlapping spans (the first wins).
PII_KINDS = (EMAIL, IBAN, CARD, NATIONAL_ID, MEMBER_ID, DOB, PHONE, ADDRESS, NAME)


@dataclass(frozen=True)
class Span:
    """[start, end) of `kind` in a text; `key` is the value normalised (same key, same placeholder)."""

    start: int
    end: int
    kind: str
    key: object


def _compact(value: str) -> str:
    return re.sub(r"[\W_]+", "", value).casefold()


_SPOKEN_EMAIL_WORDS = (
    (re.compile(r"\s*[\(\[]?\s*\bat\b\s*[\)\]]?\s*", re.IGNORECASE), "@"),
    (re.compile(r"\s*[\(\[]?\s*\bdot\b\s*[\)\]]?\s*", re.IGNORECASE), "."),
    (re.compile(r"\s*\bunderscore\b\s*", re.IGNORECASE), "_"),
    (re.compile(r"\s*\b(?:dash|hyphen)\b\s*", re.IGNORECASE), "-"),
)


def email_key(value: str) -> str:
    """An address as written, whether it was written or spoken ("lchen at yahoo dot com")."""
    for pattern, symbol in _SPOKEN_EMAIL_WORDS:
        value = pattern.sub(symbol, value)
    return value.replace(" ", "").casefold()


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
# Number words said in a local part ("kapoor eighty eight") join with a space.
_SPOKEN_DIGIT_WORDS = (
    "zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
    "ninety|hundred|double|triple"
)
_SPOKEN_JOIN = (
    r"(?:\s+(?:dot|underscore|dash|hyphen)\s+|\s*[\(\[]\s*dot\s*[\)\]]\s*|[._-]|"
    rf"\s+(?=(?:{_SPOKEN_DIGIT_WORDS})\b))"
)
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
_SSN_CONTEXT = re.compile(r"\b(?:SSN|social\s+security|social)\b", re.IGNORECASE)
_CONTEXT_WINDOW = 60


@dataclass(frozen=True)
class _Group:
    start: int  # offsets in the text, including brackets / '+'
    end: int
    digits: str
    plus: bool
    bracketed: bool


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
    return separators <= {" ", "-", "\u00a0", "\u202f"} and stdnum_luhn.is_valid(digits)


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
        # 10-11 digits (UK, most of Europe); 9 in three groups: Dublin's `01 555 0199`.
        return 10 <= n <= 11 or n == 9 and len(groups) >= 3
    if n == 10 and digits[0] in "23456789":
        return True
    if n == 11 and digits[0] == "1" and digits[1] in "23456789":
        return True
    if n == 7 and [len(g.digits) for g in groups] == [3, 4]:
        return True
    if n == 9 and len(groups) >= 3:
        return True
    return 8 <= n <= 12 and not _looks_like_dates(groups, text) and is_valid_phone(digits)


def _looks_like_dates(groups: list[_Group], text: str) -> bool:
    """Dates (`1980-06-26`, `25.11.2026`) and lists of years are not phone numbers."""
    shape = [len(g.digits) for g in groups]
    separators = {text[a.end : b.start] for a, b in zip(groups, groups[1:], strict=False)}
    if shape in ([4, 2, 2], [2, 2, 4], [1, 2, 4], [2, 1, 4], [1, 1, 4]) and separators <= {
        "-",
        ".",
        "/",
    }:
        return True
    return all(len(g.digits) == 4 and g.digits[:2] in ("19", "20") for g in groups)


# Regions whose national numbers libphonenumber is asked about (the shapes above cover the UK and
# North America; these add the other common callers' countries).
PHONE_REGIONS = ("GB", "US", "IE", "AU", "NZ", "DE", "FR", "ES", "IT", "NL", "BE", "PT", "IN")


def is_valid_phone(digits: str) -> bool:
    """Whether libphonenumber calls `digits` a valid national number of one of `PHONE_REGIONS`."""
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


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


def number_spans(text: str, digit_runs: list[tuple[int, int]]) -> list[Span]:
    """Card, national-id and phone numbers written in digits (see the module docstring)."""
    spans: list[Span] = []
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
            digits = "".join(g.digits for g in groups[i:j])
            spans.append(Span(groups[i].start, groups[j - 1].end, kind, digits))
            i = j
    return spans


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


def _spans_at(
    pattern: re.Pattern[str], kind: str, text: str, starts: Iterable[int], key=None
) -> list[Span]:
    """The matches of `pattern` as spans of `kind`, where matches can only start at `starts`."""
    return [
        Span(m.start(), m.end(), kind, key(m.group()) if key else _compact(m.group()))
        for m in _matches_at(pattern, text, starts)
    ]


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


def _spoken_email_spans(text: str, hints: list[int]) -> list[Span]:
    """`_SPOKEN_EMAIL` matches, tried only in the words before a spoken top-level domain (every
    match ends at one; finditer finds every end, as no two can overlap)."""
    ends = _spoken_tail_ends(text, hints)
    if not ends:
        return []
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
    spans: list[Span] = []
    last = 0
    for start, end in windows:
        # One character past the window's last end, so its lookahead sees what follows: a match
        # cannot end there (the last end is followed by neither a word character nor '-').
        endpos = min(size, end + 1)
        pos = max(start, last)
        while (match := _SPOKEN_EMAIL.search(text, pos, endpos)) is not None:
            spans.append(Span(match.start(), match.end(), EMAIL, email_key(match.group())))
            last = pos = match.end()
    return spans


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


# --- numbers read out as words --------------------------------------------------------------------

_UNITS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "nil": "0", "one": "1", "two": "2",
    "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
_TENS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7",
    "eighty": "8", "ninety": "9",
}  # fmt: skip
_REPEATS = {"double": 2, "triple": 3}
_NUMBER_GAP = re.compile(r"[\s,.\-–]{1,3}")
_MIN_SPOKEN_DIGITS = 5


@dataclass(frozen=True)
class SpokenNumber:
    start: int
    end: int
    digits: str


def spoken_numbers(
    text: str, number_words: list[tuple[int, int, str]], runs: list[tuple[int, int]]
) -> list[SpokenNumber]:
    """Runs of number words (and digits) read out one by one: "four one five, five five five"
    gives 415555; at least `_MIN_SPOKEN_DIGITS` digits and at least one word. `number_words` are
    the words of the text that are number words, (start, end, lower case), `runs` its digit runs."""
    if not number_words:
        return []
    found: list[SpokenNumber] = []
    pieces = sorted([*number_words, *((a, b, text[a:b]) for a, b in runs)])
    i = 0
    while i < len(pieces):
        j = i + 1
        while j < len(pieces) and _NUMBER_GAP.fullmatch(text, pieces[j - 1][1], pieces[j][0]):
            j += 1
        run = pieces[i:j]
        i = j
        if all(word.isdigit() for _a, _b, word in run):
            continue  # written digits: `number_spans`
        digits = _spoken_digits([word for _a, _b, word in run])
        if digits is not None and len(digits) >= _MIN_SPOKEN_DIGITS:
            found.append(SpokenNumber(run[0][0], run[-1][1], digits))
    return found


def _spoken_digits(words: list[str]) -> str | None:
    out: list[str] = []
    repeat = 1
    n = 0
    while n < len(words):
        word = words[n]
        if word in _REPEATS:
            repeat = _REPEATS[word]
            n += 1
            continue
        if word.isdigit():
            piece = word if word.isascii() else "".join(str(int(d)) for d in word)
        elif word in _UNITS:
            piece = _UNITS[word]
        elif word in _TEENS:
            piece = _TEENS[word]
        elif word in _TENS:
            following = words[n + 1] if n + 1 < len(words) else ""
            if following in _UNITS and _UNITS[following] != "0" and following != "o":
                piece = _TENS[word] + _UNITS[following]
                n += 1
            else:
                piece = _TENS[word] + "0"
        elif word == "hundred":
            piece = "00"
        else:
            return None
        out.append(piece * repeat)
        repeat = 1
        n += 1
    return "".join(out)


# --- ids with letters ----------------------------------------------------------------------------

_MEMBER_CONTEXT = re.compile(
    r"\b(?:member(?:ship)?|policy|patient|subscriber|MRN|medical\s+record|record|insurance|chart|"
    r"hospital|claim|account|group|plan|health\s+fund|medicare|medicaid)"
    r"(?:\s+(?:id|number|no\.?|num|#|code))?(?:\s+(?:is|was|it's|reads))?\s*[:#]?\s*",
    re.IGNORECASE,
)
_ID_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*")
_ID_SHAPE = re.compile(r"(?<![\w-])[A-Z]{1,4}-?\d{7,12}(?![\w-])")
_MEMBER_WINDOW = 40
_NATIONAL_CONTEXT = re.compile(
    r"\b(?:SSN|social\s+security|social|NHS|national\s+insurance|NI\s+number)\b", re.IGNORECASE
)
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{1,4}){3,8}(?![\w])")


def member_id_spans(text: str, contexts: list[int], runs: list[tuple[int, int]]) -> list[Span]:
    """Member, policy, patient and record numbers: after a context word (`contexts`: where such
    words start), or by their shape (capitals then 7-12 digits: tried at digit runs that long)."""
    spans = []
    for start, end in runs:
        if end - start >= 7 and start > 0 and (text[start - 1].isupper() or text[start - 1] == "-"):
            for match in _ID_SHAPE.finditer(text, max(0, start - 6), min(len(text), end + 1)):
                spans.append(Span(match.start(), match.end(), MEMBER_ID, _compact(match.group())))
    for at in contexts:
        context = _MEMBER_CONTEXT.match(text, at)
        if context is None:
            continue
        found = _id_after(text, context.end(), min(len(text), context.end() + _MEMBER_WINDOW))
        if found is not None:
            spans.append(Span(*found, MEMBER_ID, _compact(text[found[0] : found[1]])))
    return spans


def _id_after(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The first id in text[start:end]: tokens joined by single spaces or dashes (`AXH 4471 9920`),
    digits or capital letters, 5 characters or more of which 4 or more are digits."""
    group: list[re.Match] = []

    def qualifies() -> bool:
        value = "".join(t.group() for t in group)
        return len(value) >= 5 and sum(c.isdigit() for c in value) >= 4

    for token in _ID_TOKEN.finditer(text, start, end):
        value = token.group()
        usable = any(c.isdigit() for c in value) or (value.isupper() and len(value) <= 4)
        if group and (not usable or text[group[-1].end() : token.start()] not in (" ", "-")):
            if qualifies():
                break
            group = []
        if usable:
            group.append(token)
    if group and qualifies():
        return group[0].start(), group[-1].end()
    return None


# Card details said with the number: expiry dates and security codes, written or spoken.
_CARD_DETAIL = re.compile(
    r"\b(?:expiry|expires|expiration|exp\.?|valid\s+(?:until|thru))(?:\s+date)?(?:\s+is)?\s*[:,]?\s*"
    r"(\d{1,2}\s*/\s*\d{2,4}|(?:(?:oh|zero|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|twenty|thirty)[-\s,]*){2,4}|\d{4})"
    r"|\b(?:security\s+code|cvc|cvv|csc|cvv2)(?:\s+is)?\s*[:,]?\s*(\d{3,4})\b",
    re.IGNORECASE,
)


def card_detail_spans(text: str, starts: list[int]) -> list[Span]:
    """Expiry dates and security codes, tried where "expiry", "security", "CVC" … start."""
    spans = []
    for at in starts:
        match = _CARD_DETAIL.match(text, at)
        if match is None:
            continue
        group = 1 if match.group(1) else 2
        value = match.group(group).rstrip(" ,-")
        spans.append(
            Span(match.start(group), match.start(group) + len(value), CARD, _compact(value))
        )
    return spans


def iban_spans(text: str, runs: list[tuple[int, int]]) -> list[Span]:
    """IBANs: tried at the digit runs that follow two capitals (the country code)."""
    spans = []
    for start, _end in runs:
        if start < 2 or not (text[start - 2].isupper() and text[start - 1].isupper()):
            continue
        match = _IBAN.match(text, start - 2)
        if match is None:
            continue
        compact = match.group().replace(" ", "")
        # The match may run into a following word group: shorten it to the longest valid IBAN.
        while len(compact) >= 15:
            if stdnum_iban.is_valid(compact):
                end = match.start()
                seen = 0
                while seen < len(compact):
                    if text[end] != " ":
                        seen += 1
                    end += 1
                spans.append(Span(match.start(), end, IBAN, compact))
                break
            compact = compact[:-1]
    return spans


def spoken_number_spans(text: str, numbers: list[SpokenNumber]) -> list[Span]:
    """Spoken numbers by kind: a card (Luhn), an id or member number (by context), a phone."""
    spans = []
    for number in numbers:
        digits = number.digits
        before = text[max(0, number.start - _MEMBER_WINDOW - 20) : number.start]
        if 13 <= len(digits) <= 19 and digits[0] != "0" and stdnum_luhn.is_valid(digits):
            kind = CARD
        elif _NATIONAL_CONTEXT.search(before):
            kind = NATIONAL_ID
        elif _MEMBER_CONTEXT.search(before):
            kind = MEMBER_ID
        elif 7 <= len(digits) <= 15:
            kind = PHONE
        elif _DOB_CONTEXT.search(before):
            kind = DOB
        else:
            continue
        spans.append(Span(number.start, number.end, kind, digits))
    return spans


# --- dates of birth ------------------------------------------------------------------------------

_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_ORDINAL_UNITS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
_UNIT_WORDS = "one|two|three|four|five|six|seven|eight|nine"
_TEEN_WORDS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_DAY = (
    r"(?:the\s+)?(?:(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?|"
    rf"(?:twenty|thirty)[-\s](?:{_ORDINAL_UNITS}|{_UNIT_WORDS})|"
    r"tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
    rf"nineteenth|twentieth|thirtieth|{_ORDINAL_UNITS}|{_TEEN_WORDS}|{_UNIT_WORDS}|twenty|thirty)"
)
_TENS_WORDS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_YEAR_WORDS = (
    rf"(?:nineteen|eighteen)[-\s](?:hundred|(?:oh|o)[-\s](?:{_UNIT_WORDS})|{_TEEN_WORDS}|"
    rf"(?:{_TENS_WORDS})(?:[-\s](?:{_UNIT_WORDS}))?)|"
    rf"two\s+thousand(?:\s+and)?(?:[-\s](?:{_TEEN_WORDS}|(?:twenty)(?:[-\s](?:{_UNIT_WORDS}))?|"
    rf"{_UNIT_WORDS}))?|twenty[-\s](?:{_TEEN_WORDS}|(?:oh|o)[-\s](?:{_UNIT_WORDS})|"
    rf"twenty(?:[-\s](?:{_UNIT_WORDS}))?)"
)
_YEAR = rf"(?:(?:1[89]|20)\d\d|'\d\d|{_YEAR_WORDS})"
_SEP = r"(?:,?\s+(?:of\s+)?|\s*,\s*)"
_WRITTEN_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+{_DAY}{_SEP}{_YEAR}|{_DAY}\s+(?:of\s+)?{_MONTH}{_SEP}{_YEAR})(?![\w'])",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(rf"\b(?:{_MONTH}\s+{_DAY}|{_DAY}\s+(?:of\s+)?{_MONTH})\b", re.IGNORECASE)
_NUMERIC_DATE = re.compile(
    r"(?<![\w/.:-])(?:(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})|((?:19|20)\d\d)-(\d{1,2})-(\d{1,2}))"
    r"(?![\w/:-]|\.\d)"
)
_DOB_CONTEXT = re.compile(
    r"\b(?:date\s+of\s+birth|birth\s*date|birthday|born|d\.?o\.?b\b\.?|admitted|discharged|died|"
    r"passed\s+away|date\s+of\s+death)",
    re.IGNORECASE,
)
_DOB_WINDOW = 60
_YEAR_NUMBER = re.compile(r"(?:1[89]|20)\d\d")


def _year_of(text: str, reference_year: int) -> int | None:
    """The year a date expression names (None when none can be read)."""
    found = _YEAR_NUMBER.search(text)
    if found:
        return int(found.group())
    short = re.search(r"'(\d\d)\b", text)
    if short:
        return _century(int(short.group(1)), reference_year)
    lowered = text.casefold()
    for prefix, base in (("nineteen", 1900), ("eighteen", 1800)):
        at = lowered.rfind(prefix)
        if at >= 0:
            rest = lowered[at + len(prefix) :]
            digits = _spoken_digits(re.findall(r"[a-z]+", rest)) or ""
            return base + int(digits[-2:]) if digits and digits != "00" else base
    if "thousand" in lowered:
        return 2000
    if lowered.rstrip().split()[-1:] and lowered.split()[-2:-1] == ["twenty"]:
        return 2000
    return None


def _century(two_digits: int, reference_year: int) -> int:
    return 2000 + two_digits if two_digits <= reference_year % 100 + 1 else 1900 + two_digits


def dob_spans(
    text: str,
    reference_year: int,
    months: list[int],
    contexts: list[int],
    runs: list[tuple[int, int]],
) -> list[Span]:
    """Dates of birth and person-tied dates (see the module docstring), tried near month names
    (`months`: where they start), after date-of-birth words (`contexts`: where they end) and at
    digit runs."""
    spans: list[Span] = []
    if months:
        seen: set[int] = set()
        for month in months:
            lo = max(0, month - 40)
            for match in _WRITTEN_DATE.finditer(text, lo, min(len(text), month + 70)):
                if match.start() in seen or not (match.start() <= month < match.end()):
                    continue
                seen.add(match.start())
                year = _year_of(match.group(), reference_year)
                if (
                    year is not None
                    and year <= reference_year - 2
                    or _dob_context(text, match.start())
                ):
                    spans.append(Span(match.start(), match.end(), DOB, _compact(match.group())))
        for match in (
            m
            for at in contexts
            for m in _DAY_MONTH.finditer(text, at, min(len(text), at + _DOB_WINDOW))
        ):
            if match.start() not in seen:
                spans.append(Span(match.start(), match.end(), DOB, _compact(match.group())))
    for start, end in runs:
        if end >= len(text) or text[end] not in "/.-":
            continue  # a numeric date starts with a number and a separator
        match = _NUMERIC_DATE.match(text, start)
        if match is None:
            continue
        if match.group(1):
            first, second = int(match.group(1)), int(match.group(3))
            if not (1 <= first <= 31 and 1 <= second <= 31 and min(first, second) <= 12):
                continue
            raw_year = match.group(4)
            year = int(raw_year) if len(raw_year) == 4 else _century(int(raw_year), reference_year)
        else:
            year = int(match.group(5))
            if not (1 <= int(match.group(6)) <= 12 and 1 <= int(match.group(7)) <= 31):
                continue
        if year <= reference_year - 2 or _dob_context(text, match.start()):
            spans.append(Span(match.start(), match.end(), DOB, _compact(match.group())))
    return spans


def _dob_context(text: str, start: int) -> bool:
    return bool(_DOB_CONTEXT.search(text, max(0, start - _DOB_WINDOW), start))


# --- addresses -----------------------------------------------------------------------------------

_STREET_WORDS = (
    "street|st|road|rd|lane|ln|avenue|ave|drive|dr|way|close|crescent|cres|court|ct|place|pl|"
    "boulevard|blvd|terrace|grove|gardens|square|sq|parkway|pkwy|circle|cir|row|mews|walk|"
    "highway|hwy|hill|park|green|rise|view|trail|wharf|quay|parade"
)
_STRONG_STREET_WORDS = "street|road|lane|avenue|drive|close|crescent|terrace|boulevard|gardens|way"
_CAP = r"[A-Z][\w'’.-]*"
_CITY_WORD = r"[A-Z][a-z][\w'’-]*"  # "Bristol", not a postcode's "BS8"
_HOUSE_WORD = rf"(?:{_TENS_WORDS}|{_TEEN_WORDS}|{_UNIT_WORDS}|hundred|oh)"
_HOUSE = rf"(?:\d{{1,5}}[A-Za-z]?|{_HOUSE_WORD}(?:[-\s]{_HOUSE_WORD}){{0,3}})"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
_US_STATE = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    r"NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)"
)
_NOT_PLACE = (
    r"(?!(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Today|Tomorrow|Yes|No|"
    r"Okay|Thanks|That|It|Is|And|But|So|I)\b)"
)
_ADDRESS_TAIL = (
    rf"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Flat|\#)\.?\s*\w+)?"
    rf"(?:,\s*{_NOT_PLACE}{_CITY_WORD}(?:\s+{_NOT_PLACE}{_CITY_WORD}){{0,2}})?"
    rf"(?:,?\s+{_US_STATE}\b)?(?:,?\s+(?:{_UK_POSTCODE}|\d{{5}}(?:-\d{{4}})?)\b)?"
)
_STREET_ADDRESS = re.compile(
    rf"(?:\b(?:Flat|Apartment|Apt|Unit|Suite)\.?\s+\w+,?\s+)?\b{_HOUSE}\s*,?\s+"
    rf"(?:(?:{_CAP}\s+){{1,3}}(?i:{_STREET_WORDS})\b\.?|[A-Z][a-z]+way\b)"
    rf"{_ADDRESS_TAIL}"
)
# Speech-to-text in lower case: a house number, name words, a street word that is unambiguous.
_LOWER_ADDRESS = re.compile(
    rf"\b{_HOUSE}\s+((?:[a-z][\w'’-]*\s+){{1,3}})(?:{_STRONG_STREET_WORDS})\b"
    rf"(?:,?\s+(?:{_UK_POSTCODE}|\d{{5}}))?",
    re.IGNORECASE,
)
_LIVES_ON = re.compile(
    rf"\b(?:live|lives|living|moved|moving|address\s+is|address's|staying)\s+(?:on|at|to|in)?\s*"
    rf"((?:{_CAP}\s+){{1,3}}(?i:{_STREET_WORDS})\b\.?{_ADDRESS_TAIL})"
)
_POSTCODE = re.compile(rf"(?<![\w-])(?:{_UK_POSTCODE})(?![\w-])")
_POSTCODE_SPOKEN = re.compile(
    r"\b(?:post\s*code|zip(?:\s+code)?)(?:\s+is|\s+it's|'s)?\s*[:,]?\s*"
    rf"((?i:{_UK_POSTCODE})|\d{{5}}(?:-\d{{4}})?)\b",
    re.IGNORECASE,
)


_STOP_IN_STREET = word_set(
    """
    a an the and or of to in on at my your for is it i we
    """
)


_ADDRESS_BEFORE, _ADDRESS_AFTER = 80, 80  # how far an address reaches around its street word
# What must come before a street word for an address: a house number, or "I live on" and the like.
_HOUSE_HINT = re.compile(
    rf"\d|\b(?:{_TENS_WORDS}|{_TEEN_WORDS}|{_UNIT_WORDS}|live|lives|living|moved|moving|address|"
    r"staying)\b",
    re.IGNORECASE,
)


def address_spans(
    text: str, streets: list[int], postcode_words: list[int], runs: list[tuple[int, int]]
) -> list[Span]:
    """Addresses, tried around street words (`streets`: where they start) that have a house
    number or "I live on" before them; postcodes at digit runs and after "postcode" / "zip"."""
    spans: list[Span] = []
    windows: list[list[int]] = []
    for street in streets:
        lo, hi = max(0, street - _ADDRESS_BEFORE), min(len(text), street + _ADDRESS_AFTER)
        if not _HOUSE_HINT.search(text, lo, street):
            continue
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    for lo, hi in windows:
        for match in _STREET_ADDRESS.finditer(text, lo, hi):
            spans.append(Span(match.start(), match.end(), ADDRESS, _compact(match.group())))
        for match in _LOWER_ADDRESS.finditer(text, lo, hi):
            words = match.group(1).split()
            if not any(w.casefold() in _STOP_IN_STREET for w in words):
                spans.append(Span(match.start(), match.end(), ADDRESS, _compact(match.group())))
        for match in _LIVES_ON.finditer(text, lo, hi):
            spans.append(Span(match.start(1), match.end(1), ADDRESS, _compact(match.group(1))))
    for start, _end in runs:
        # A UK postcode's first digit is 1 or 2 letters in: "BS8 4QT", "M1 4BT".
        for lead in (1, 2):
            if start >= lead and text[start - lead : start].isalpha():
                match = _POSTCODE.match(text, start - lead)
                if match is not None:
                    spans.append(Span(match.start(), match.end(), ADDRESS, _compact(match.group())))
                    break
    for at in postcode_words:
        match = _POSTCODE_SPOKEN.match(text, at)
        if match is not None:
            spans.append(Span(match.start(1), match.end(1), ADDRESS, _compact(match.group(1))))
    seen: set[tuple[int, int]] = set()
    return [s for s in spans if (s.start, s.end) not in seen and not seen.add((s.start, s.end))]


# --- everything but names ------------------------------------------------------------------------


# Words that anchor a detector: it is tried only where one of them is (one dictionary look-up per
# word of the text, instead of a scan of the whole text by each pattern).
_STREET, _MONTH_WORD, _DOB_WORD, _MEMBER_WORD, _NUMBER, _CARD_WORD, _POSTCODE_ANCHOR = range(7)
_ANCHOR_WORDS: dict[str, int] = {
    **dict.fromkeys(_STREET_WORDS.split("|"), _STREET),
    **dict.fromkeys(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
            "jan",
            "feb",
            "mar",
            "apr",
            "jun",
            "jul",
            "aug",
            "sept",
            "sep",
            "oct",
            "nov",
            "dec",
        ],
        _MONTH_WORD,
    ),
    **dict.fromkeys(
        [
            "birth",
            "birthday",
            "born",
            "dob",
            "d.o.b",
            "admitted",
            "discharged",
            "died",
            "away",
            "death",
        ],
        _DOB_WORD,
    ),
    **dict.fromkeys(
        [
            "member",
            "membership",
            "policy",
            "patient",
            "subscriber",
            "mrn",
            "medical",
            "record",
            "insurance",
            "chart",
            "hospital",
            "claim",
            "account",
            "group",
            "plan",
            "health",
            "medicare",
            "medicaid",
        ],
        _MEMBER_WORD,
    ),
    **dict.fromkeys([*_UNITS, *_TEENS, *_TENS, *_REPEATS, "hundred"], _NUMBER),
    **dict.fromkeys(
        [
            "expiry",
            "expires",
            "expiration",
            "exp",
            "valid",
            "security",
            "cvc",
            "cvv",
            "csc",
            "cvv2",
        ],
        _CARD_WORD,
    ),
    **dict.fromkeys(("post", "postcode", "zip"), _POSTCODE_ANCHOR),
}


def _anchors(words: Iterable[Word]) -> tuple[list, ...]:
    """Per anchor kind, where its words are: starts (ends for date-of-birth words; (start, end,
    word) for number words, hyphenated ones split: "twenty-one")."""
    found: tuple[list, ...] = ([], [], [], [], [], [], [])
    for word in words:
        key = word.key
        kind = _ANCHOR_WORDS.get(key)
        if kind is None:
            if "-" in key and any(part in _ANCHOR_WORDS for part in key.split("-")):
                at = word.start
                for part in key.split("-"):
                    if _ANCHOR_WORDS.get(part) == _NUMBER:
                        found[_NUMBER].append((at, at + len(part), part))
                    at += len(part) + 1
            elif key.endswith("way") and len(key) > 4 and word.capitalised:
                found[_STREET].append(word.start)  # "Kingsway", "Broadway"
            continue
        if kind == _NUMBER:
            found[_NUMBER].append((word.start, word.end, key))
        elif kind == _DOB_WORD:
            found[_DOB_WORD].append(word.end)
        else:
            found[kind].append(word.start)
    return found


def pattern_spans(
    text: str, reference_year: int, words: Iterable[Word] | None = None
) -> list[Span]:
    """Every span of every kind but `NAME` (overlapping; `redaction` resolves them). `words`: the
    text's words (`pii_names.words`), when the caller has them already."""
    spans: list[Span] = []
    if "@" in text:
        spans += _spans_at(_EMAIL, EMAIL, text, _email_starts(text), key=str.casefold)
    runs, hints = _landmarks(text)
    if hints:
        before = len(spans)
        spans += _spoken_email_spans(text, hints)
        if len(spans) != before:
            runs = _digit_runs(text)
    anchors = _anchors(words if words is not None else split_words(text))
    if runs:
        spans += _spans_at(_UK_NI, NATIONAL_ID, text, _ni_starts(text, runs))
        spans += _spans_at(_DNI, NATIONAL_ID, text, _dni_starts(text, runs))
        spans += number_spans(text, runs)
        spans += iban_spans(text, runs)
    spans += member_id_spans(text, anchors[_MEMBER_WORD], runs)
    spans += address_spans(text, anchors[_STREET], anchors[_POSTCODE_ANCHOR], runs)
    if anchors[_CARD_WORD]:
        spans += card_detail_spans(text, anchors[_CARD_WORD])
    spoken = spoken_numbers(text, anchors[_NUMBER], runs)
    if spoken:
        spans += spoken_number_spans(text, spoken)
    spans += dob_spans(text, reference_year, anchors[_MONTH_WORD], anchors[_DOB_WORD], runs)
    return spans
