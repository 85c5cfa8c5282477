"""PII redaction (`batch_pipelines.workflows.redaction`): every kind replaced, counted, nothing else
touched, nothing kept."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_pipelines.workflows.redaction import (
    COUNT_KEYS,
    Identities,
    Redactor,
    redact_pii,
    reidentify,
)

PREFIXES = ("My details are", "Caller: yeah it's", "مرحبا، رقمي", "Sure 👍 —", "Contact")
SUFFIXES = ("thanks.", "if that helps", "شكرا جزيلا", "cheers 🙏", "okay?")
# What may directly follow the PII: end of sentence, a comma, nothing.
TRAILERS = ("", ".", ",", "!", "?")
NO_PII = dict.fromkeys(COUNT_KEYS.values(), 0)


def _counts(**kinds: int) -> dict[str, int]:
    return {**NO_PII, **kinds}


# --- e-mail -------------------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_local = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_+-]{0,12}[a-zA-Z0-9])?", fullmatch=True)
emails = st.builds(
    lambda parts, labels, tld: f"{'.'.join(parts)}@{'.'.join(labels)}.{tld}",
    st.lists(_local, min_size=1, max_size=3),
    st.lists(_label, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)


@settings(max_examples=100, deadline=None)
@given(emails, st.sampled_from(PREFIXES), st.sampled_from(SUFFIXES), st.sampled_from(TRAILERS))
def test_every_email_is_replaced_and_counted(
    email: str, prefix: str, suffix: str, trailer: str
) -> None:
    redaction = redact_pii(f"{prefix} {email}{trailer} {suffix}")
    assert redaction.text == f"{prefix} [EMAIL_1]{trailer} {suffix}"
    assert redaction.counts == _counts(email=1)


@pytest.mark.parametrize(
    "spoken",
    [
        "olivia dot patel at gmail dot com",
        "o dot patel underscore 84 at outlook dot co dot uk",
        "olivia.patel (at) gmail (dot) com",
        "olivia.patel [at] gmail [dot] co [dot] uk",
        "OLIVIA DOT PATEL AT GMAIL DOT COM",
        "jörg.müller@exämple.de",
    ],
)
def test_spoken_and_obfuscated_emails_are_replaced(spoken: str) -> None:
    redaction = redact_pii(f"It's {spoken}, all lower case.")
    assert redaction.text == "It's [EMAIL_1], all lower case."
    assert redaction.counts == _counts(email=1)


# --- phones -------------------------------------------------------------------------------------


def _d(n: int) -> st.SearchStrategy[str]:
    return st.from_regex(rf"[0-9]{{{n}}}", fullmatch=True)


def _nanp() -> st.SearchStrategy[tuple[str, str, str]]:
    return st.tuples(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True), _d(3), _d(4)).map(
        lambda t: (t[0], str(2 + int(t[1][0]) % 8) + t[1][1:], t[2])
    )


phones = st.one_of(
    st.builds(lambda a, b: f"07{a} {b}", _d(3), _d(6)),  # UK mobile
    st.builds(lambda a, b, c: f"01{a} {b} {c}", _d(2), _d(3), _d(4)),  # UK landline
    st.builds(lambda a, b: f"020 {a} {b}", _d(4), _d(4)),  # London
    st.builds(lambda a, b: f"+44 7{a} {b}", _d(3), _d(6)),
    st.builds(lambda a, b, c: f"+44 (0)1{a} {b} {c}", _d(2), _d(3), _d(4)),
    st.builds(lambda a, b: f"+447{a}{b}", _d(3), _d(6)),
    st.builds(lambda a, b: f"0044 7{a} {b}", _d(3), _d(6)),
    _nanp().map(lambda t: f"({t[0]}) {t[1]}-{t[2]}"),
    _nanp().map(lambda t: f"{t[0]}-{t[1]}-{t[2]}"),
    _nanp().map(lambda t: f"{t[0]}.{t[1]}.{t[2]}"),
    _nanp().map(lambda t: f"+1 {t[0]} {t[1]} {t[2]}"),
    _nanp().map(lambda t: f"1-{t[0]}-{t[1]}-{t[2]}"),
    st.builds(lambda a, b: f"555-{a}{b}", _d(2), _d(2)),  # US local
    st.builds(lambda a, b, c, d: f"+33 6 {a} {b} {c} {d}", _d(2), _d(2), _d(2), _d(2)),
    st.builds(lambda a, b, c, d: f"06 {a} {b} {c} {d}", _d(2), _d(2), _d(2), _d(2)),
    st.builds(lambda a: f"+49 30 {a}", _d(8)),
)


@settings(max_examples=150, deadline=None)
@given(phones, st.sampled_from(PREFIXES), st.sampled_from(SUFFIXES), st.sampled_from(TRAILERS))
def test_every_phone_number_is_replaced_and_counted(
    phone: str, prefix: str, suffix: str, trailer: str
) -> None:
    redaction = redact_pii(f"{prefix} {phone}{trailer} {suffix}")
    assert redaction.text == f"{prefix} [PHONE_1]{trailer} {suffix}"
    assert redaction.counts == _counts(phone=1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(phones, emails), min_size=2, max_size=6))
def test_several_items_in_one_text_are_each_counted(items: list[str]) -> None:
    redaction = redact_pii(" and then ".join(items))
    assert redaction.counts["phone"] + redaction.counts["email"] == len(items)
    assert redaction.counts["email"] == sum("@" in item for item in items)
    for item in items:
        assert item not in redaction.text


def test_phone_followed_by_an_unrelated_number_is_still_found() -> None:
    redaction = redact_pii("call 07700 900123 2 times, or 0117 496 0123. 5 stars")
    assert redaction.text == "call [PHONE_1] 2 times, or [PHONE_2]. 5 stars"


def test_phone_in_arabic_indic_digits_inside_rtl_text_is_replaced() -> None:
    redaction = redact_pii("رقمي ٠٧٧٠٠ ٩٠٠١٢٣ شكرا 👋")
    assert redaction.text == "رقمي [PHONE_1] شكرا 👋"


# --- cards --------------------------------------------------------------------------------------


def _luhn_complete(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        d = int(char)
        if i % 2 == 0:  # these are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _grouped(number: str, sep: str) -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


cards = st.builds(
    lambda first, rest, sep: _grouped(_luhn_complete(first + rest), sep),
    st.from_regex(r"[1-9]", fullmatch=True),
    st.integers(min_value=11, max_value=17).flatmap(_d),
    st.sampled_from([" ", "-", ""]),
)


@settings(max_examples=100, deadline=None)
@given(cards, st.sampled_from(PREFIXES), st.sampled_from(TRAILERS))
def test_luhn_valid_card_numbers_are_replaced(card: str, prefix: str, trailer: str) -> None:
    redaction = redact_pii(f"{prefix} {card}{trailer} thanks")
    assert redaction.text == f"{prefix} [CARD_1]{trailer} thanks"
    assert redaction.counts == _counts(card=1)


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4242424242424242",
        "5555-5555-5555-4444",
        "3782 822463 10005",  # Amex grouping
        "4000 0566 5566 5556",
    ],
)
def test_published_test_cards_are_replaced(card: str) -> None:
    assert redact_pii(f"the long number is {card}, expiry 09/28, security code 123").text == (
        "the long number is [CARD_1], expiry [CARD_2], security code [CARD_3]"
    )


def test_sixteen_digits_failing_luhn_are_not_a_card() -> None:
    assert redact_pii("reference 4111 1111 1111 1112").counts["card"] == 0


# --- national ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "my SSN is 923-45-6789",
        "it's 923 45 6789",
        "NI number QQ123456C",
        "national insurance QQ 12 34 56 C",
        "ni qq123456c",
        "DNI 12345678Z",
        "my NHS number is 999 123 4567",
        "NHS no. 9991234567",
        "social security number 923456789",
        "my social is nine two three, four five, six seven eight nine",
    ],
)
def test_national_id_like_numbers_are_replaced(text: str) -> None:
    redaction = redact_pii(text)
    assert redaction.counts == _counts(national_id=1)
    assert not any(c.isdigit() for c in redaction.text.replace("[NATIONAL_ID_1]", ""))
    assert redaction.text.endswith("[NATIONAL_ID_1]")


def test_every_kind_in_one_transcript() -> None:
    transcript = (
        "Agent: Can I take an email?\nCaller: olivia.patel@gmail.com\n"
        "Agent: And a number?\nCaller: 07700 900123, or the landline 0117 496 0123.\n"
        "Agent: The deposit card?\nCaller: 4111 1111 1111 1111, expiry 12/27.\n"
        "Agent: And your NI number for the form?\nCaller: QQ 12 34 56 C.\n"
        "Agent: Your name and date of birth?\nCaller: Olivia Patel, 3 March 1988.\n"
        "Agent: Member ID?\nCaller: It's AXB 4471 9920. I live at 22 Victoria Road, Bristol BS8 2PH.\n"
        "Agent: And the IBAN for refunds?\nCaller: GB82 WEST 1234 5698 7654 32.\n"
    )
    redaction = redact_pii(transcript)
    assert redaction.counts == _counts(
        email=1, phone=2, card=2, national_id=1, name=1, dob=1, member_id=1, address=1, iban=1
    )
    for secret in ("olivia", "Olivia", "07700", "900123", "0117", "4111", "QQ", "34 56", "1988"):
        assert secret not in redaction.text
    for secret in ("4471", "Victoria", "BS8", "WEST", "12/27"):
        assert secret not in redaction.text
    assert "Agent: The deposit card?" in redaction.text


def test_the_same_value_gets_the_same_placeholder_and_the_mapping_restores_it() -> None:
    text = (
        "Caller: my number is 07700 900123, that's oh seven seven oh oh, nine double oh, one two "
        "three. My wife's is 07700 900456. Email olivia.patel@gmail.com, "
        "olivia dot patel at gmail dot com."
    )
    redaction = redact_pii(text)
    assert redaction.text.count("[PHONE_1]") == 2 and redaction.text.count("[PHONE_2]") == 1
    assert redaction.text.count("[EMAIL_1]") == 2 and "[EMAIL_2]" not in redaction.text
    assert redaction.mapping["[PHONE_1]"] == "07700 900123"
    assert redaction.mapping["[PHONE_2]"] == "07700 900456"
    assert reidentify("Call [PHONE_2] or mail [EMAIL_1].", redaction.mapping) == (
        "Call 07700 900456 or mail olivia.patel@gmail.com."
    )


def test_a_person_is_one_placeholder_whatever_part_of_their_name_is_said() -> None:
    text = (
        "Agent: Can I take your full name, please?\n"
        "Caller: Yeah, it's Luis Chen — C-H-E-N.\n"
        "Agent: Thanks, Luis. I'll book you in with Dr Okafor.\n"
        "Agent: You're welcome, Mr Chen."
    )
    redaction = redact_pii(text)
    assert "Luis" not in redaction.text and "Chen" not in redaction.text
    assert "C-H-E-N" not in redaction.text and "Okafor" not in redaction.text
    assert redaction.text.count("[NAME_1]") == 4
    assert redaction.mapping["[NAME_1]"] == "Luis Chen"
    assert reidentify("[NAME_1] booked with [NAME_2].", redaction.mapping) == (
        "Luis Chen booked with Dr Okafor."
    )


def test_one_redactor_shares_placeholders_across_the_texts_of_a_request() -> None:
    redactor = Redactor(Identities(names=("Priya Raman",), phones=("+44 7700 900555",)))
    first = redactor.redact("Priya")
    notes = redactor.redact("Priya asked to be called on 07700 900555 after 5pm.")
    assert first == "[NAME_1]"
    assert notes == "[NAME_1] asked to be called on [PHONE_1] after 5pm."
    assert redactor.counts["name"] == 2 and redactor.counts["phone"] == 1


def test_the_tenants_records_name_the_caller_without_any_cue() -> None:
    # No cue, no capital letter: only the lead made from the call says this is a name.
    identities = Identities(names=("Zbigniew Brzeczyszczykiewicz",), emails=("zb@firma.pl",))
    redaction = redact_pii(
        "so brzeczyszczykiewicz will come at 5, write to ZB@firma.pl", identities
    )
    assert redaction.text == "so [NAME_1] will come at 5, write to [EMAIL_1]"


def test_the_leads_phone_is_found_whatever_its_separators() -> None:
    identities = Identities(phones=("+44 7700 900777",))
    redaction = redact_pii("call 7 7 0 0 9 0 0 7 7 7 or 07700-900-777, 12 times", identities)
    assert redaction.text == "call [PHONE_1] or [PHONE_1], 12 times"


def test_the_business_name_and_agent_persona_stay_but_a_caller_of_that_name_does_not() -> None:
    identities = Identities(business_names=("Willow Lane Dental", "Esme"))
    text = (
        "Agent: Willow Lane Dental, this is Esme. We're at 12 Mill Lane, Bristol BS3 2AA.\n"
        "Caller: It's Esme Clarke, on 0117 496 0123."
    )
    redaction = redact_pii(text, identities)
    assert redaction.text == (
        "Agent: Willow Lane Dental, this is Esme. We're at [ADDRESS_1].\n"
        "Caller: It's [NAME_1], on [PHONE_1]."
    )


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("born on the 26th of June 1980", "born on [DOB_1]"),
        ("June 26, 1980", "[DOB_1]"),
        ("date of birth 26/06/80", "date of birth [DOB_1]"),
        ("DOB: 1980-06-26", "DOB: [DOB_1]"),
        ("the twenty-sixth of June, nineteen eighty", "[DOB_1]"),
        ("my birthday is June 26th", "my birthday is [DOB_1]"),
        ("Can we do June 26th at 10:15?", "Can we do June 26th at 10:15?"),
        ("booked for 12 December 2026", "booked for 12 December 2026"),
    ],
)
def test_dates_of_birth_go_and_appointments_stay(text: str, redacted: str) -> None:
    assert redact_pii(text, reference_year=2026).text == redacted


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("it's four one five, five five five, zero one two three", "it's [PHONE_1]"),
        ("oh seven seven double oh, nine hundred, one two three", "[PHONE_1]"),
        ("member number seven seven two one nine nine four oh", "member number [MEMBER_ID_1]"),
        ("at two o'clock, one or two people, about three hundred pounds", None),
    ],
)
def test_numbers_read_out_as_words(text: str, redacted: str | None) -> None:
    assert redact_pii(text).text == (text if redacted is None else redacted)


# --- what must survive --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The colour is £1,250.00 or $1,250 or 1 250 000 won, paid on 25/11/2026 at 10:30.",
        "Dates 2026-11-25, 25.11.2026 and 25-11-2026; years 2019 2020 2021.",
        "Room 101 for 3 nights, 2 adults, order 12345, booking ref LH-58213, job number 774210.",
        "Version 3.14159, 4 x 250ml, 100% sure, call at 9 or 10, 24/7 support.",
        "I work at Tesco, meet me at the station at 5.",
        "Agent: مرحبا بك 👋🏽 كيف أساعدك؟ Caller: 👨\u200d👩\u200d👧 שלום",
        "An email without a domain: olivia@ and a bare @ sign.",
    ],
)
def test_text_without_pii_is_unchanged(text: str) -> None:
    redaction = redact_pii(text)
    assert redaction.text == text
    assert redaction.counts == NO_PII


@pytest.mark.parametrize(
    "text",
    [
        "a_" * 5000 + " x",
        "1 " * 5000,
        "1-" * 5000,
        "(1)" * 5000,
        "a dot " * 5000 + " at x",
        "a.a." * 5000 + "@",
        "+1 " * 5000,
        "07700 900123 " * 2000,
    ],
)
def test_pathological_input_is_redacted_without_catastrophic_backtracking(text: str) -> None:
    # Quadratic or exponential matching would hang here for minutes at these sizes (and CI would
    # time out); linear matching takes milliseconds. No wall-clock assertion: machines are noisy.
    result = redact_pii(text)
    assert len(result.text) > 0


def test_demo_transcripts_keep_no_contact_details_after_redaction() -> None:
    # The demo seed writes calls with the formats real callers use (spaced, bracketed and
    # international phones, spoken e-mails, test cards, SSN/NI/NHS numbers); none may survive.
    seed = pytest.importorskip("batch_pipelines.db.seed")
    rows = seed.demo_rows(
        tenants=12, date="2026-11-25", seed=7, calls_per_tenant=10, docs_per_tenant=0
    )
    transcripts = {call["call_id"]: call["transcript"] for call in rows["calls"]}
    redacted = {call_id: redact_pii(text).text for call_id, text in transcripts.items()}
    checked = 0
    for lead in rows["leads"]:
        if lead["call_id"] not in redacted:
            continue
        for value in (lead["email"], lead["phone"], lead["name"]):
            if value and value in transcripts[lead["call_id"]]:
                assert value not in redacted[lead["call_id"]]
                checked += 1
        if lead["email"]:
            local = lead["email"].split("@")[0].replace(".", " dot ").replace("_", " underscore ")
            assert f"{local} at " not in redacted[lead["call_id"]]
    assert checked > 10
    for text in redacted.values():
        assert "@" not in text
        # No run of 7+ digits is left, other than inside alphanumeric reference codes.
        assert not re.search(r"(?<![A-Z\d])(?:\d[ ()-]*){7,}", text), text
