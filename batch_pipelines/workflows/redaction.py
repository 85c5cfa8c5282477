"""PII redaction with consistent placeholders, and re-identification of the answers. Reusable by any
workflow; no database, no network, no model download.

`Redactor(identities).redact(text)` replaces personal data with numbered placeholders, `[NAME_1]`,
`[DOB_1]`, `[PHONE_2]` …: the same value gets the same placeholder in every text one `Redactor`
redacts (one request), so the model's answer can refer to "[NAME_1]" coherently. `mapping` gives
each placeholder's original value; it is kept in our database only (the request's manifest notes)
and `reidentify` puts the values back into the model's answer before it is stored, so the tenant
sees its own data and the provider never does.

What is detected (`pii_patterns` for the shapes, `pii_names` for names):

| kind | what |
|---|---|
| `NAME` | person names: given by the caller, spelled letter by letter, with titles, from the lexicon, and the names the tenant's records link to the text (`Identities.names`) |
| `DOB` | dates of birth and other dates tied to a person, written or spoken |
| `MEMBER_ID` | insurance member, policy, patient, MRN and record numbers, by context and shape |
| `ADDRESS` | street addresses, UK postcodes, US ZIP codes |
| `PHONE` | phone numbers, national or international, in digits or read out as words |
| `EMAIL` | e-mail addresses, written or spoken ("at", "dot", "underscore") |
| `CARD` | card numbers (Luhn), written or spoken |
| `NATIONAL_ID` | SSNs, UK National Insurance and NHS numbers, Spanish DNI/NIE |
| `IBAN` | IBANs (ISO 13616 check) |

Not redacted: the business's own name and its AI agent's persona name (`Identities.business_names`);
prices, times, appointment dates, booking references, cities. The business's own phone, address and
e-mail are redacted like any other (a caller's number can be the same; the tenant sees them again
in its results): over-redaction costs nothing that re-identification does not give back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.workflows.pii_names import NameFinder, Person, Words, split_words
from batch_pipelines.workflows.pii_patterns import (
    ADDRESS,
    CARD,
    DOB,
    EMAIL,
    IBAN,
    MEMBER_ID,
    NAME,
    NATIONAL_ID,
    PHONE,
    PII_KINDS,
    Span,
    email_key,
    pattern_spans,
)

__all__ = [
    "ADDRESS",
    "CARD",
    "COUNT_KEYS",
    "DOB",
    "EMAIL",
    "IBAN",
    "MEMBER_ID",
    "NAME",
    "NATIONAL_ID",
    "PHONE",
    "PII_KINDS",
    "MAPPING_NOTE",
    "PLACEHOLDER",
    "Identities",
    "Redaction",
    "Redactor",
    "mapping_of",
    "redact_pii",
    "reidentify",
    "tenant_identities",
]

# Keys of the counts mapping (stored as request notes and on results): lowercase kind names.
COUNT_KEYS: Mapping[str, str] = {kind: kind.lower() for kind in PII_KINDS}
_PRIORITY = {kind: n for n, kind in enumerate(PII_KINDS)}
PLACEHOLDER = re.compile(r"\[(" + "|".join(PII_KINDS) + r")_(\d{1,4})\]")
# The key of the placeholder mapping in a request's manifest notes.
MAPPING_NOTE = "pii"


@dataclass(frozen=True)
class Identities:
    """What the tenant's own records say about a text.

    `names`, `emails`, `phones`: people the records link to it (the call's lead): always redacted,
    wherever and however they occur. `business_names` (the tenant's name, its agent's persona):
    not names of people, unless a surname follows ("Esme" is the agent, "Esme Clarke" a caller)."""

    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    business_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Redaction:
    """Redacted text, replacements per kind (every count key, lower case), and the placeholders'
    original values."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)
    mapping: Mapping[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


class Redactor:
    """Redacts the texts of one request with shared placeholders (see the module docstring)."""

    def __init__(
        self, identities: Identities | None = None, *, reference_year: int | None = None
    ) -> None:
        self.identities = identities or Identities()
        self.reference_year = reference_year or dt.date.today().year
        self.counts: dict[str, int] = dict.fromkeys(COUNT_KEYS.values(), 0)
        self.mapping: dict[str, str] = {}
        self._placeholders: dict[tuple[str, object], str] = {}
        self._numbers: dict[str, int] = dict.fromkeys(PII_KINDS, 0)
        self._names = NameFinder(self.identities.names, self.identities.business_names)
        # A known phone matches on its last 9 digits (with or without a country or trunk prefix),
        # whatever the separators between them.
        self._known_phones = {
            _digits(p)[-9:] for p in self.identities.phones if len(_digits(p)) >= 7
        }
        self._known_emails = {e.strip().casefold() for e in self.identities.emails if "@" in e}

    def redact(self, text: str) -> str:
        """`text` with its personal data replaced by placeholders (counted, mapped)."""
        spans = self.spans(text)
        if not spans:
            return text
        out: list[str] = []
        last = 0
        for start, end, _kind, placeholder in spans:
            out.append(text[last:start])
            out.append(placeholder)
            last = end
        out.append(text[last:])
        return "".join(out)

    def spans(self, text: str) -> list[tuple[int, int, str, str]]:
        """The (start, end, kind, placeholder) of each replacement `redact` makes in `text`, in
        order (counted and mapped as `redact` does)."""
        if not text:
            return []
        words = split_words(text)  # once, for the patterns' anchors and the names
        spans = self._resolve(self._candidates(text, words))
        taken = sorted((s.start, s.end) for s in spans)
        for start, end, person in self._names.find(text, taken, words):
            spans.append(Span(start, end, NAME, person))
        spans.sort(key=lambda s: s.start)
        replaced = []
        for span in spans:
            replaced.append((span.start, span.end, span.kind, self._placeholder(span, text)))
            self.counts[COUNT_KEYS[span.kind]] += 1
        return replaced

    def result(self, text: str) -> Redaction:
        return Redaction(self.redact(text), dict(self.counts), dict(self.mapping))

    # --- spans ----------------------------------------------------------------------------------

    def _candidates(self, text: str, words: Words) -> list[Span]:
        spans = pattern_spans(text, self.reference_year, words)
        for email in self._known_emails:
            spans += _occurrences(text, email, EMAIL, email)
        for digits in self._known_phones:
            spans += [
                Span(start, end, PHONE, _digits(text[start:end]))
                for start, end in known_phone_matches(text, digits)
            ]
        if self._known_phones:
            spans = [
                Span(s.start, s.end, PHONE, s.key)
                if s.kind in (MEMBER_ID, NATIONAL_ID) and str(s.key)[-9:] in self._known_phones
                else s
                for s in spans
            ]
        return spans

    @staticmethod
    def _resolve(spans: list[Span]) -> list[Span]:
        """Non-overlapping spans: by kind priority, then the longest, then the first."""
        ordered = sorted(spans, key=lambda s: (_PRIORITY[s.kind], -(s.end - s.start), s.start))
        kept: list[Span] = []
        for span in ordered:
            if all(span.end <= k.start or span.start >= k.end for k in kept):
                kept.append(span)
        return kept

    def _placeholder(self, span: Span, text: str) -> str:
        if span.kind == NAME:
            person: Person = span.key  # type: ignore[assignment]
            key: tuple[str, object] = (NAME, id(person))
            value = person.value
        else:
            key = (span.kind, _normalise(span.kind, span.key))
            value = text[span.start : span.end]
        placeholder = self._placeholders.get(key)
        if placeholder is None:
            self._numbers[span.kind] += 1
            placeholder = f"[{span.kind}_{self._numbers[span.kind]}]"
            self._placeholders[key] = placeholder
            self.mapping[placeholder] = value
        return placeholder


def _normalise(kind: str, key: object) -> object:
    if kind == PHONE and isinstance(key, str):
        return key[-9:]  # "+44 7700 900123" and "07700 900123" are one number
    if kind == EMAIL and isinstance(key, str):
        return email_key(key)
    return key


# Where a number can start: a digit, or a "+" before one, that does not follow a digit.
_PHONE_START = re.compile(r"(?<!\d)(?:\+(?=\d)|\d)")
_PHONE_SEPARATORS = "().-"  # and white space: `[\s().-]`


def _skip_separators(text: str, at: int) -> int:
    while at < len(text) and (text[at] in _PHONE_SEPARATORS or text[at].isspace()):
        at += 1
    return at


def _known_phone_regex(digits: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\d)(?:\+?\d[\s().-]*){0,4}" + r"[\s().-]*".join(digits) + r"(?!\d)")


def known_phone_matches(text: str, digits: str) -> list[tuple[int, int]]:
    """The (start, end) of each match of `_known_phone_regex(digits)` in `text`, as `finditer`
    gives them: a known phone's last digits, at most four prefix digits before them, whatever the
    separators. Walked by hand rather than compiled per phone: compiling took longer than redacting
    the transcript. Each step of that regex is forced (a separator is never a digit nor "+"), so
    its one choice is how many prefix digits to take: the most that let the digits follow, as the
    greedy `{0,4}` does. Its digit class is `str.isdecimal`, its white space `str.isspace`
    (`test_redaction_equivalence` checks the walk against the regex)."""
    if not digits.isdecimal():  # "²": a digit the walk's `_PHONE_START` would not see
        return [match.span() for match in _known_phone_regex(digits).finditer(text)]
    matches: list[tuple[int, int]] = []
    size = len(text)
    last = len(digits) - 1
    at = 0
    while (candidate := _PHONE_START.search(text, at)) is not None:
        start = candidate.start()
        # Where the digits may begin after 0, 1, … 4 prefix digits ("+44 ", "0").
        begins = [start]
        unit = start
        for _prefix in range(4):
            if unit < size and text[unit] == "+":
                unit += 1
            if unit >= size or not text[unit].isdecimal():
                break
            unit = _skip_separators(text, unit + 1)
            begins.append(unit)
        end = None
        for begin in reversed(begins):
            position = begin
            for number, digit in enumerate(digits):
                if position >= size or text[position] != digit:
                    break
                position += 1
                if number < last:
                    position = _skip_separators(text, position)
            else:
                if position >= size or not text[position].isdecimal():
                    end = position
                    break
        if end is None:
            at = start + 1
        else:
            matches.append((start, end))
            at = end
    return matches


def _occurrences(text: str, value: str, kind: str, key: object) -> list[Span]:
    spans = []
    lowered = text.casefold()
    at = lowered.find(value)
    while at >= 0:
        spans.append(Span(at, at + len(value), kind, key))
        at = lowered.find(value, at + len(value))
    return spans


def redact_pii(
    text: str, identities: Identities | None = None, *, reference_year: int | None = None
) -> Redaction:
    """One text redacted on its own (see `Redactor` for several texts sharing placeholders)."""
    return Redactor(identities, reference_year=reference_year).result(text)


def reidentify(value: Any, mapping: Mapping[str, str]) -> Any:
    """`value` (a string, or lists and dicts of them) with every placeholder of `mapping` replaced
    by its original; placeholders it does not know are left as they are."""
    if not mapping:
        return value
    if isinstance(value, str):
        if "[" not in value:
            return value
        return PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), value)
    if isinstance(value, list | tuple):
        return type(value)(reidentify(v, mapping) for v in value)
    if isinstance(value, Mapping):
        return {k: reidentify(v, mapping) for k, v in value.items()}
    return value


def mapping_of(notes: Mapping[str, Any]) -> dict[str, str]:
    """The placeholder mapping kept in a request's notes (only well-formed entries)."""
    raw = notes.get(MAPPING_NOTE) or {}
    if not isinstance(raw, Mapping):
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, str) and PLACEHOLDER.fullmatch(k)}


_PERSONA_ROLE = re.compile(r"\s*\(.*\)\s*$")


def tenant_identities(
    tenant: TenantContext,
    *,
    agent_names: Iterable[str | None] = (),
    names: Iterable[str | None] = (),
    emails: Iterable[str | None] = (),
    phones: Iterable[str | None] = (),
) -> Identities:
    """The `Identities` of a text of `tenant`: the people its records link to the text (`names`,
    `emails`, `phones`), and the business's own names: its name and brand name, and its agents'
    persona names ("Esme (Reception)" is the persona Esme)."""
    brand = tenant.brand or {}
    business_names = [tenant.name, brand.get("brand_name"), brand.get("name")]
    business_names += [_PERSONA_ROLE.sub("", a) for a in agent_names if isinstance(a, str)]
    return Identities(
        names=_present(names),
        emails=_present(emails),
        phones=_present(phones),
        business_names=_present(business_names),
    )


def _present(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if isinstance(v, str) and v.strip()))
