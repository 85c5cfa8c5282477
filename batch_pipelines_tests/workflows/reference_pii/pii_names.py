"""Frozen copy of `batch_pipelines.workflows.pii_names` (see `__init__`).

Person names in call transcripts and lead records: rules, a given-name lexicon and the identities
the tenant's own records hold. Used by `workflows.redaction`; no database, no model download.

Why rules and not a NER model: the small models that install as packages (spaCy's English
pipelines, GLiNER) are either not on PyPI from their authors or fetch weights at run time, cost
milliseconds per transcript (planning redacts hundreds of thousands), and miss exactly what a
receptionist's transcript holds: names spelled letter by letter, lower-case speech-to-text, a name
given as the answer to "who am I speaking with?". Those are rules; and the caller's own name is
usually already in the tenant's records (the lead of the call), which no model knows.

How a name is found (each finding is a *mention*; every later occurrence of a found name's words is
a mention too, so "Thanks, Luis" is caught once "Luis Chen" was):

1. known identities: the words of names the tenant's records link to the text (the call's lead);
2. cues: "my name is …", "it's …", "this is …", "call me …", "under the name …", "for my son …"
   followed by name-like words (capitalised; any case after the strong cues such as "my name is");
3. the answer to a name question: the first name-like words of the turn after "who am I speaking
   with?", "can I take your full name?" and the like;
4. titles: "Mr Chen", "Dr Okafor", "Mrs O'Connor-Walsh" (the title is part of the mention);
5. spelling: "C-H-E-N", "N.G.U.Y.E.N", "spelled c h e n": the spelled letters are a name, and so is
   any word of the text they spell;
6. the lexicon (`pii_data/given_names.json`, about 3,400 given names): a capitalised given name and
   the capitalised word after it ("Lucy Kowalski"); a capitalised given name alone ("with Priya"),
   unless it is also a common word at the start of a sentence ("Will I get a reminder?").

Not names: the tenant's own business name and its AI agent's persona name ("this is Esme"), which
the caller passes in `Identities.business_names`.

Mentions are grouped into people: a mention of two or more words starts a person, a one-word
mention (or a spelling) joins the first person that has that word. Each person is one placeholder.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources


def word_set(text: str) -> frozenset[str]:
    """The words of a list written as text, one or more a line."""
    return frozenset(text.split())


TITLES = word_set(
    """
    mr mrs ms miss mx dr doctor prof professor nurse sister father rev reverend sir dame lady
    lord mister madam
    """
)
# Lower-case words between the parts of a name: "Ludwig van Beethoven", "Maria de la Cruz".
PARTICLES = word_set(
    """
    van von der den de del della da di dos du la le bin binti ibn al el
    """
)

# Given names that are also common English words (or month names): never a name on the lexicon
# alone, only with a cue, a title, a surname after them, or from the tenant's records.
AMBIGUOUS = word_set(
    """
    will may june april august mark bill grace hope faith joy rose sandy art don guy sue pat
    jack ray rich frank chase hunter mason carter cooper baker page love king young long summer
    autumn dawn eve holly ivy iris lily daisy violet ruby amber crystal pearl jade heather fern
    olive hazel basil rusty bob dick penny sky star cliff glen dale wood stone hill lane field
    brook river forest major earl duke prince price noble miles max sunny honey candy cherry
    angel precious harmony melody destiny trinity justice liberty royal bliss happy lucky early
    gay jean tony ross craig neil rob nick matt sally polly patience prudence constance charity
    verity mercy august bee buck carol clay colt coy cole dean dusty ernest fay ford gale gene
    grant hardy hazel hollis ike jay jewel john lee les lou mae marsh mo ned norm pete ransom
    red reed rex rocky roman rowan sage shelby sterling storm tab taylor tucker vance wade ward
    webb wiley win woody wren christian
    """
)

# Capitalised words that look like given names but are not people here (days, months, places that
# shops and clinics name, payment brands).
NOT_NAMES = word_set(
    """
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december christmas easter agent caller okay ok
    yes no thanks thank hello hi hey sorry sure great perfect lovely brilliant right fine good
    austin denver boston chester florence victoria albert jackson lincoln washington cleveland
    houston dallas phoenix madison charlotte orlando raleigh savannah sydney paris london apple
    google visa amex
    """
)

# Lower-case words that are never part of a name (they end a run of name words).
STOPWORDS = word_set(
    """
    a an the and or but if so of to in on at by for with from as is it its it's that's this
    that these those there here i i'm i'd i'll i've me my mine you your yours we our us he she
    him her his they them their be am are was were been being do does did have has had having
    not no yes yeah yep nope ok okay sure please thanks thank just also too very really well oh
    um uh er erm hmm right fine good great lovely perfect brilliant cheers bye hello hi hey
    sorry again now then what who when where why how which can could would should will shall
    may might must calling speaking here there back up down out about over under after before
    today tomorrow yesterday morning afternoon evening night all any some one two three four
    five six seven eight nine ten number phone email mobile cell home work booked booking
    appointment calling called call name surname spelled spelt spell first last full actually
    maybe like
    """
)

# Words that end a street's name and are seldom surnames: a run of names stops there ("Queen
# Street", "Victoria Road" are addresses; "Rachel Green", "Amy Hill" are people).
_STREET_WORD = re.compile(
    r"(?i:street|st|road|rd|lane|avenue|ave|drive|way|close|crescent|place|boulevard|terrace|"
    r"grove|gardens|square|parkway|mews)"
)
# A word: a letter, then letters, digits, and apostrophes or hyphens between letters; a final "'s"
# is not part of it ("Connor's notes": the name is "Connor").
_WORD = re.compile(r"([^\W\d_](?:[^\W_]|['’](?![sS]\b)(?=[^\W\d_])|-(?=[^\W\d_]))*)(?:['’][sS]\b)?")
_SPEAKER = re.compile(r"^[ \t]*([A-Za-z][\w ]{0,24}):[ \t]*", re.MULTILINE)
# Cues before a name. Strong cues take the following words in any case; weak ones only capitalised.
_STRONG_CUE = re.compile(
    r"\b(?:my\s+name\s+is|my\s+name's|my\s+names|name\s+is|name's|the\s+name's|the\s+name\s+is|call\s+me|"
    r"under\s+the\s+name(?:\s+of)?|in\s+the\s+name\s+of|names?\s+(?:are|is)|named|surname\s+is|"
    r"first\s+name\s+is|last\s+name\s+is|full\s+name\s+is)\s+",
    re.IGNORECASE,
)
_WEAK_CUE = re.compile(
    r"\b(?:it's|it\s+is|this\s+is|i'm|i\s+am|speaking\s+with|speak\s+(?:to|with)|ask\s+for|"
    r"asked\s+for|booked\s+under|under|hi|hello|thanks|thank\s+you|bye|dear)\s+",
    re.IGNORECASE,
)
# Words after which only a given name of the lexicon is taken ("with Priya", not "with Apple Pay").
_LEXICON_CUE = re.compile(
    r"\b(?:with|see|saw|and|for|from|to|tell|told|ask|asked)\s+", re.IGNORECASE
)
# "my son Noah", "their mum, Rachel Green": any capitalised word after them is a name.
_RELATION_CUE = re.compile(
    r"\b(?:my|our|his|her|their)\s+(?:late\s+)?(?:wife|husband|partner|son|daughter|mum|mom|"
    r"mother|dad|father|brother|sister|boy|girl|kid|child|friend|colleague|boss|grandson|"
    r"granddaughter|grandmother|grandfather|nephew|niece|fiancée?|carer|manager|assistant|neighbou?r|"
    r"office\s+manager)(?:,)?\s+",
    re.IGNORECASE,
)
_NAME_QUESTION = re.compile(
    r"\b(?:your\s+(?:full\s+|first\s+|last\s+|sur)?name|who\s+am\s+i\s+(?:speaking|talking)\s+(?:with|to)|"
    r"who's\s+calling|what\s+name|whose\s+name|first\s+and\s+last\s+name|name\s+(?:shall|should)\s+i|"
    r"name\s+for\s+the\s+booking|spell\s+(?:that|your|the)|the\s+patient's\s+name|name,?\s+please|"
    r"(?:first|last|sur)\s*name\b|and\s+you\s+are)\b",
    re.IGNORECASE,
)
_REPLY_FILLERS = word_set(
    """
    yes yeah yep sure ok okay it's it is that's um uh er erm so hi hello well right of course
    my name's name's i'm this is oh ah
    """
)
# Letters spelled out: C-H-E-N, N.G.U.Y.E.N, O-'-C-O-N-N-O-R is rare enough to leave.
_SPELLED = re.compile(r"(?<![\w-])(?:[A-Za-z](?:-|\.\s?)){2,}[A-Za-z](?![\w-])")
_SPELLED_SPACED = re.compile(
    r"\b(?:spelled|spelt|spelling|that's)\s+((?:[A-Za-z]\s){2,}[A-Za-z])\b"
)


# Which cues can start at a word: each is tried only at its own first words, not everywhere.
_CUE_STARTS: dict[str, tuple[re.Pattern[str], ...]] = {}
for _cue, _starts in (
    (_STRONG_CUE, "my name the call under in names named surname first last full"),
    (_RELATION_CUE, "my our his her their"),
    (
        _WEAK_CUE,
        "it this i'm i speaking speak ask asked booked under hi hello thanks thank bye dear",
    ),
    (_LEXICON_CUE, "with see saw and for from to tell told ask asked"),
):
    for _start in _starts.split():
        _CUE_STARTS[_start] = (*_CUE_STARTS.get(_start, ()), _cue)
_SPELLING_CUES = word_set("spelled spelt spelling that")


@functools.cache
def given_names() -> frozenset[str]:
    """The lexicon, lower case (see `pii_data/make_given_names.py` for its sources)."""
    data = resources.files("batch_pipelines.workflows.pii_data").joinpath("given_names.json")
    names = {_fold(name) for name in json.loads(data.read_text())}
    return frozenset(names - NOT_NAMES)


@dataclass(eq=False)
class Person:
    """One person of a request: the words that name them, and the value their placeholder stands
    for (the first full mention: "Luis Chen", "Dr Okafor")."""

    words: set[str]
    value: str


class Word:
    """A word of the text: where it is, and its lower-case key (made once: read very often)."""

    __slots__ = ("capitalised", "end", "key", "start", "text")

    def __init__(self, start: int, end: int, text: str) -> None:
        self.start = start
        self.end = end
        self.text = text
        self.key = text.casefold()
        self.capitalised = text[0].isupper()

    @property
    def folded(self) -> str:
        """The word without accents, lower case: what the lexicon is looked up with."""
        return _fold(self.text)


@functools.lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def split_words(text: str, taken: Sequence[tuple[int, int]] = ()) -> list[Word]:
    """The words of `text` (letters, then letters, digits, inner apostrophes and hyphens; a final
    "'s" left out) outside the `taken` spans (sorted, non-overlapping)."""
    tokens = []
    spans = iter(taken)
    span = next(spans, None)
    if span is None:
        return [Word(m.start(), m.end(1), m.group(1)) for m in _WORD.finditer(text)]
    for match in _WORD.finditer(text):
        start, end = match.span(1)
        while span is not None and span[1] <= start:
            span = next(spans, None)
        if span is not None and span[0] < end:
            continue
        tokens.append(Word(start, end, match.group(1)))
    return tokens


@functools.lru_cache(maxsize=4096)
def _keys_of(names: tuple[str, ...]) -> frozenset[str]:
    """The words of a tenant's own names (cached: every text of the tenant has the same)."""
    return frozenset(word.key for name in names for word in split_words(name))


def _outside(words: Sequence[Word], taken: Sequence[tuple[int, int]]) -> list[Word]:
    """The words not overlapping a `taken` span (both sorted)."""
    if not taken:
        return list(words)
    kept = []
    spans = iter(taken)
    span = next(spans, None)
    for word in words:
        while span is not None and span[1] <= word.start:
            span = next(spans, None)
        if span is None or span[0] >= word.end:
            kept.append(word)
    return kept


def _sentence_start(text: str, start: int) -> bool:
    """Whether the word at `start` begins a sentence, a line or a speaker's turn."""
    i = start - 1
    while i >= 0 and text[i] in " \t\"'“‘(":
        i -= 1
    return i < 0 or text[i] in ".!?:\n—–…"


def _name_like(token: Word, *, any_case: bool, lexicon: frozenset[str]) -> bool:
    key = token.key
    if len(key) < 2:
        return False
    if key in STOPWORDS:
        # "it's Will Baxter": a capitalised given name that is also a common word.
        return not any_case and token.capitalised and token.folded in lexicon
    return any_case or token.capitalised


class NameFinder:
    """Finds person names in texts; the people found persist across `find` calls (one request's
    texts share their placeholders)."""

    def __init__(self, known_names: Iterable[str] = (), business_names: Iterable[str] = ()) -> None:
        self.lexicon = given_names()
        self.people: list[Person] = []
        self._by_word: dict[str, Person] = {}
        self._not_names = _keys_of(tuple(business_names))
        for name in known_names:
            words = [t for t in split_words(name) if t.key not in TITLES and len(t.key) > 1]
            if words:
                self._person(words, " ".join(name.split()))

    # --- people ---------------------------------------------------------------------------------

    def _person(self, words: Sequence[Word], value: str) -> Person:
        keys = [w.key for w in words if w.key not in TITLES and w.key not in PARTICLES]
        if len(keys) >= 2:
            for person in self.people:
                if set(keys) <= person.words:
                    return person
            person = Person(set(keys), value)
            self.people.append(person)
        else:
            person = next((p for p in self.people if keys and keys[0] in p.words), None)
            if person is None:
                person = Person(set(keys), value)
                self.people.append(person)
        for key in keys:
            # A word names the first person found with it ("Chen" is Luis Chen's until told).
            self._by_word.setdefault(key, person)
        return person

    # --- finding --------------------------------------------------------------------------------

    def find(
        self,
        text: str,
        taken: Sequence[tuple[int, int]] = (),
        all_words: Sequence[Word] | None = None,
    ) -> list[tuple[int, int, Person]]:
        """The name mentions of `text` as (start, end, person), in order, none overlapping `taken`
        (spans other detectors claimed; sorted). `all_words`: `split_words(text)`, when the caller
        has it already."""
        tokens = split_words(text, taken) if all_words is None else _outside(all_words, taken)
        if not tokens:
            return []
        index = {t.start: n for n, t in enumerate(tokens)}
        found: list[tuple[int, int]] = []  # token index ranges [i, j)

        def run_from(i: int, *, any_case: bool, limit: int = 4, periods: bool = False) -> int:
            """The end of the run of name-like words starting at token i (i when none). A month
            or a day ("June") only starts a run with a surname after it ("June Carter")."""
            j = i
            while j < len(tokens) and j - i < limit:
                token = tokens[j]
                if j > i:
                    gap = text[tokens[j - 1].end : token.start]
                    # "Oliver. Nguyen, that's N-G-U-Y-E-N" in answer to a name question.
                    if gap not in (" ", "-") and not (
                        periods and gap == ". " and token.capitalised
                    ):
                        break
                if token.key in PARTICLES and j > i:
                    j += 1
                    continue
                if not _name_like(token, any_case=any_case, lexicon=self.lexicon):
                    break
                if token.key in NOT_NAMES and not any_case and j > i:
                    break
                if j > i and _STREET_WORD.fullmatch(token.text):
                    break  # "Queen Street": the caller's street is an address, not a name
                j += 1
            while j > i and tokens[j - 1].key in PARTICLES:
                j -= 1
            if j - i == 1 and tokens[i].key in NOT_NAMES and not any_case:
                return i
            if all(t.key in self._not_names for t in tokens[i:j]):
                return i  # "this is Esme", the business's own name; "Esme Clarke" is a caller
            return j

        # 2. cues
        # Each cue is tried only at the words it can start with (a look-up per word, not a scan).
        matches = (
            match
            for token in tokens
            for cue in _CUE_STARTS.get(token.key, ())
            if (match := cue.match(text, token.start)) is not None
        )
        for match in matches:
            cue = match.re
            any_case = cue is _STRONG_CUE
            i = index.get(match.end())
            if i is None:
                continue
            j = run_from(i, any_case=any_case)
            if j == i:
                continue
            words = tokens[i:j]
            if _STREET_WORD.fullmatch(tokens[j].text if j < len(tokens) else ""):
                continue  # "Queen Street", "Albert Road"
            given = words[0].folded in self.lexicon and (
                words[0].key not in AMBIGUOUS or len(words) > 1
            )
            if cue is _WEAK_CUE and not (given or len(words) > 1 or words[0].key in self._by_word):
                continue  # a weak cue needs a given name, two words, or a known word
            if cue is _LEXICON_CUE and not given:
                continue
            found.append((i, j))
        # 3. answers to a name question
        turns = list(_SPEAKER.finditer(text))
        for previous, turn in zip(turns, turns[1:], strict=False):
            if not _NAME_QUESTION.search(text, previous.end(), turn.start()):
                continue
            i = index.get(turn.end())
            if i is None:
                i = next((n for n, t in enumerate(tokens) if t.start >= turn.end()), None)
                if i is None:
                    continue
            lowercase = not any(t.capitalised for t in tokens[i : i + 6])
            while i < len(tokens) and tokens[i].key in _REPLY_FILLERS:
                i += 1
            if i < len(tokens):
                j = run_from(i, any_case=lowercase, periods=True)
                if j > i:
                    found.append((i, j))
        # 4. titles
        for n, token in enumerate(tokens[:-1]):
            if token.key in TITLES and token.capitalised:
                k = n + 1
                while k < len(tokens) - 1 and tokens[k].key in PARTICLES:
                    k += 1
                nxt = tokens[k]
                if text[token.end : tokens[n + 1].start] in (" ", ". ") and nxt.capitalised:
                    j = run_from(k, any_case=False, limit=2)
                    if j > k:
                        found.append((n, j))
        # 5. spelling
        spelled: list[tuple[int, int, str]] = []
        last_spelled = -1
        for token in tokens:
            # "C-H-E-N" is one word, "N.G.U.Y.E.N" starts with a word of one letter.
            if token.start > last_spelled and (
                len(token.text) == 1 or len(token.text) >= 5 and token.text[1] == "-"
            ):
                match = _SPELLED.match(text, token.start)
                if match is not None and not _inside(taken, match.start(), match.end()):
                    letters = re.sub(r"[^A-Za-z]", "", match.group())
                    spelled.append((match.start(), match.end(), letters.casefold()))
                    last_spelled = match.end()
            elif token.key in _SPELLING_CUES:
                match = _SPELLED_SPACED.match(text, token.start)
                if match is not None and not _inside(taken, match.start(1), match.end(1)):
                    letters = match.group(1).replace(" ", "")
                    spelled.append((match.start(1), match.end(1), letters.casefold()))
        spelled_words = {letters for _s, _e, letters in spelled}
        # 6. the lexicon
        for n, token in enumerate(tokens):
            if not token.capitalised:
                continue
            key = token.key
            if token.folded not in self.lexicon:
                continue
            if key in STOPWORDS and (
                _sentence_start(text, token.start)
                or not (n + 1 < len(tokens) and tokens[n + 1].capitalised)
            ):
                continue  # "My NHS number", "Will I …?"
            if _STREET_WORD.fullmatch(token.text):
                continue  # "Mill Lane"
            if key in NOT_NAMES:
                continue
            j = run_from(n, any_case=False)
            if j == n and key in self._not_names:
                continue  # the business's own name alone: its agent's persona
            if j < len(tokens) and _STREET_WORD.fullmatch(tokens[j].text):
                continue  # "Queen Street"
            if j > n + 1 or (
                len(key) > 2
                and not token.text.isupper()
                and not (key in AMBIGUOUS and _sentence_start(text, token.start))
            ):
                found.append((n, max(j, n + 1)))

        # Words of names found: every occurrence of them is a mention too.
        mentions: dict[int, tuple[int, Person]] = {}
        covered = [False] * len(tokens)
        for i, j in sorted(found, key=lambda r: (r[0], -r[1])):
            words = tokens[i:j]
            person = self._person(words, " ".join(w.text for w in words))
            if covered[i]:
                continue
            mentions[i] = (j, person)
            covered[i:j] = [True] * (j - i)
        by_word = self._by_word
        for n, token in enumerate(tokens):
            key = token.key
            if covered[n] or (key not in by_word and key not in spelled_words):
                continue
            if key in spelled_words and key not in self._by_word and len(key) > 2:
                self._person([token], token.text)
            person = self._by_word.get(key)
            if person is None or key in self._not_names:
                continue
            if key in NOT_NAMES and not (
                n + 1 < len(tokens)
                and tokens[n + 1].key in person.words
                and tokens[n + 1].key != key
            ):
                continue  # "June" the month, once "June Carter" was found
            # "Will you be there?", "I hope so": such a word names the person only when
            # capitalised and not starting a sentence, or next to another of their words.
            if (key in AMBIGUOUS or key in STOPWORDS) and (
                not token.capitalised
                or _sentence_start(text, token.start)
                and not (n + 1 < len(tokens) and tokens[n + 1].key in person.words)
            ):
                continue
            mentions[n] = (n + 1, person)
        out: list[tuple[int, int, Person]] = []
        for i, (j, person) in sorted(mentions.items()):
            out.append((tokens[i].start, tokens[j - 1].end, person))
        for start, end, letters in spelled:
            person = self._by_word.get(letters)
            if person is None:
                person = self._person([Word(start, end, letters)], text[start:end])
            out.append((start, end, person))
        out.sort(key=lambda m: (m[0], -m[1]))
        merged: list[tuple[int, int, Person]] = []
        for start, end, person in out:
            if merged and start < merged[-1][1]:
                continue
            merged.append((start, end, person))
        return merged


def _inside(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps one of `spans` (sorted, non-overlapping)."""
    lo, hi = 0, len(spans)
    while lo < hi:
        mid = (lo + hi) // 2
        if spans[mid][1] <= start:
            lo = mid + 1
        else:
            hi = mid
    return lo < len(spans) and spans[lo][0] < end
