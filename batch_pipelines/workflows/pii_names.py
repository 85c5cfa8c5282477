"""Person names in call transcripts and lead records: rules, a given-name lexicon and the identities
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
import itertools
import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TypeVar


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
# Split by it, a text gives [gap, word, "'s" or "", gap, …]. Possessive quantifiers: the same words
# as trying each character in turn, without the backtracking.
_WORD_PARTS = re.compile(
    r"([^\W\d_][^\W_]*+(?:(?:['’](?![sS]\b)|-)[^\W\d_][^\W_]*+)*+)((?:['’][sS]\b)?)"
)
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
# With each cue but the strong one, the most words it has ("my late office manager"): the name it
# introduces starts a capitalised word within that many words after the first.
_CUE_REACH: dict[str, int] = {}
for _cue, _starts, _words in (
    (_STRONG_CUE, "my name the call under in names named surname first last full", None),
    (_RELATION_CUE, "my our his her their", 4),
    (
        _WEAK_CUE,
        "it this i'm i speaking speak ask asked booked under hi hello thanks thank bye dear",
        2,
    ),
    (_LEXICON_CUE, "with see saw and for from to tell told ask asked", 1),
):
    for _start in _starts.split():
        _CUE_STARTS[_start] = (*_CUE_STARTS.get(_start, ()), _cue)
        reach = _CUE_REACH.get(_start, 0)
        _CUE_REACH[_start] = -1 if _words is None or reach < 0 else max(reach, _words)
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


_Fact = TypeVar("_Fact")


class WordFacts(dict[str, _Fact]):
    """One fact of each distinct word, worked out the first time the word is seen (a fact of the
    word alone, never of its text): `select` then finds the words of a text that have it in one
    pass in C (`itertools.compress` over dictionary look-ups) rather than a Python test per word.
    Bounded: emptied when it holds `limit` words."""

    def __init__(self, fact: Callable[[str], _Fact], limit: int = 100_000) -> None:
        super().__init__()
        self._fact = fact
        self._limit = limit

    def __missing__(self, word: str) -> _Fact:
        if len(self) >= self._limit:
            self.clear()
        value = self[word] = self._fact(word)
        return value

    def select(self, words: Sequence[str]) -> list[int]:
        """The indexes of the `words` whose fact is true, in order."""
        return list(itertools.compress(range(len(words)), map(self.__getitem__, words)))


class Words:
    """The words of a text (`split_words`) as parallel lists, index by index: `texts`, `starts`,
    `ends`, lower-case `keys` (casefolded) and whether each is `capitalised`. Lists rather than an
    object per word: they are made with a few passes in C, and the finders only look at the few
    words that can matter to them."""

    __slots__ = ("capitalised", "ends", "keys", "starts", "texts")

    def __init__(
        self,
        texts: list[str],
        starts: list[int],
        ends: list[int],
        keys: list[str] | None = None,
        capitalised: list[bool] | None = None,
    ) -> None:
        self.texts = texts
        self.starts = starts
        self.ends = ends
        # Looked up rather than made: a word's key and case are worked out once per distinct
        # word, and a key from the table has its hash already, for the finders' set look-ups.
        self.keys = list(map(_KEY.__getitem__, texts)) if keys is None else keys
        self.capitalised = (
            list(map(_CAPITALISED.__getitem__, texts)) if capitalised is None else capitalised
        )

    def __len__(self) -> int:
        return len(self.texts)

    def outside(self, taken: Sequence[tuple[int, int]]) -> Words:
        """The words not overlapping a `taken` span (sorted, non-overlapping)."""
        if not taken:
            return self
        starts, ends = self.starts, self.ends
        removed: list[tuple[int, int]] = []
        lo = 0
        for start, end in taken:
            lo = bisect_right(ends, start, lo)  # the first word ending after the span starts
            hi = bisect_left(starts, end, lo)  # the first word starting at or after its end
            if hi > lo:
                removed.append((lo, hi))
                lo = hi
        if not removed:
            return self
        lists = [self.texts[:], starts[:], ends[:], self.keys[:], self.capitalised[:]]
        for lo, hi in reversed(removed):
            for values in lists:
                del values[lo:hi]
        return Words(*lists)


@functools.lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """The word without accents, lower case: what the lexicon is looked up with."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_KEY: WordFacts[str] = WordFacts(str.casefold)
_CAPITALISED: WordFacts[bool] = WordFacts(lambda word: word[0].isupper())
# A word where spelling can start: one letter ("N.G.U.Y.E.N"), letters joined by hyphens
# ("C-H-E-N"), or a word that says a spelling follows.
_MAY_SPELL = WordFacts(
    lambda word: len(word) == 1 or word[1] == "-" or word.casefold() in _SPELLING_CUES
)
# A capitalised given name of the lexicon (step 6 starts from these; `NameFinder.lexicon` is
# `given_names()`).
_CAPITALISED_GIVEN_NAME = WordFacts(lambda word: word[0].isupper() and _fold(word) in given_names())


def split_words(text: str) -> Words:
    """The words of `text`: letters, then letters, digits, inner apostrophes and hyphens; a final
    "'s" left out."""
    # `_WORD_PARTS.split` gives [gap, word, "'s" or "", gap, word, …, gap]: the offsets are the
    # running sum of the parts' lengths.
    parts = _WORD_PARTS.split(text)
    offsets = list(itertools.accumulate(map(len, parts)))
    return Words(parts[1::3], offsets[0:-1:3], offsets[1::3])


@functools.lru_cache(maxsize=4096)
def _keys_of(names: tuple[str, ...]) -> frozenset[str]:
    """The words of a tenant's own names (cached: every text of the tenant has the same)."""
    return frozenset(key for name in names for key in split_words(name).keys)


def _sentence_start(text: str, start: int) -> bool:
    """Whether the word at `start` begins a sentence, a line or a speaker's turn."""
    i = start - 1
    while i >= 0 and text[i] in " \t\"'“‘(":
        i -= 1
    return i < 0 or text[i] in ".!?:\n—–…"


def _may_ask_name(lowered: str) -> bool:
    """False when `_NAME_QUESTION` cannot match in a text whose `lower()` is `lowered` (of the
    same length): each of its phrases holds "name", "who", "spell", or "and", "you" and "are";
    ignoring case, no character matches one of their letters but the letter itself and its
    capital, and 'ſ' for 's' (`test_redaction_equivalence` checks it)."""
    return (
        "name" in lowered
        or "who" in lowered
        or "spell" in lowered
        or "ſpell" in lowered
        or ("you" in lowered and "are" in lowered and "and" in lowered)
    )


class NameFinder:
    """Finds person names in texts; the people found persist across `find` calls (one request's
    texts share their placeholders)."""

    def __init__(self, known_names: Iterable[str] = (), business_names: Iterable[str] = ()) -> None:
        self.lexicon = given_names()
        self.people: list[Person] = []
        self._by_word: dict[str, Person] = {}
        self._not_names = _keys_of(tuple(business_names))
        for name in known_names:
            keys = [k for k in split_words(name).keys if k not in TITLES and len(k) > 1]
            if keys:
                self._person(keys, " ".join(name.split()))

    # --- people ---------------------------------------------------------------------------------

    def _person(self, word_keys: Sequence[str], value: str) -> Person:
        keys = [k for k in word_keys if k not in TITLES and k not in PARTICLES]
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
        all_words: Words | None = None,
    ) -> list[tuple[int, int, Person]]:
        """The name mentions of `text` as (start, end, person), in order, none overlapping `taken`
        (spans other detectors claimed; sorted). `all_words`: `split_words(text)`, when the caller
        has it already."""
        words = (split_words(text) if all_words is None else all_words).outside(taken)
        count = len(words)
        if not count:
            return []
        texts, starts, ends, keys, capitalised = (
            words.texts,
            words.starts,
            words.ends,
            words.keys,
            words.capitalised,
        )
        lexicon = self.lexicon
        not_names = self._not_names
        present = set(keys)
        found: list[tuple[int, int]] = []  # word index ranges [i, j)

        def name_like(n: int, any_case: bool) -> bool:
            key = keys[n]
            if len(key) < 2:
                return False
            if key in STOPWORDS:
                # "it's Will Baxter": a capitalised given name that is also a common word.
                return not any_case and capitalised[n] and _fold(texts[n]) in lexicon
            return any_case or capitalised[n]

        def run_from(i: int, *, any_case: bool, limit: int = 4, periods: bool = False) -> int:
            """The end of the run of name-like words starting at word i (i when none). A month
            or a day ("June") only starts a run with a surname after it ("June Carter")."""
            j = i
            stop = min(count, i + limit)
            while j < stop:
                if j > i:
                    gap = text[ends[j - 1] : starts[j]]
                    # "Oliver. Nguyen, that's N-G-U-Y-E-N" in answer to a name question.
                    if (
                        gap != " "
                        and gap != "-"
                        and not (periods and gap == ". " and capitalised[j])
                    ):
                        break
                    if keys[j] in PARTICLES:
                        j += 1
                        continue
                if not name_like(j, any_case):
                    break
                if j > i and (
                    keys[j] in NOT_NAMES and not any_case or _STREET_WORD.fullmatch(texts[j])
                ):
                    break  # "Queen Street": the caller's street is an address, not a name
                j += 1
            while j > i and keys[j - 1] in PARTICLES:
                j -= 1
            if j == i:
                return i
            if j - i == 1 and keys[i] in NOT_NAMES and not any_case:
                return i
            if not_names and all(keys[n] in not_names for n in range(i, j)):
                return i  # "this is Esme", the business's own name; "Esme Clarke" is a caller
            return j

        # 2. cues
        # Each cue is tried only at the words it can start with (a look-up per word, not a scan).
        for n in [n for n, key in enumerate(keys) if key in _CUE_STARTS]:
            reach = _CUE_REACH[keys[n]]
            if reach > 0 and not any(capitalised[n + 1 : n + 1 + reach]):
                continue  # no capitalised word where a name could start (-1: a strong cue)
            for cue in _CUE_STARTS[keys[n]]:
                match = cue.match(text, starts[n])
                if match is None:
                    continue
                # The word the cue ends at, if one starts there (looked up: a dict of every word's
                # start cost more than the few cues that match).
                i = bisect_left(starts, match.end())
                if i == count or starts[i] != match.end():
                    continue
                strong = cue is _STRONG_CUE
                # Only a strong cue takes a word that is not capitalised, only a given name of the
                # lexicon follows a lexicon cue: the checks below would reject the others.
                if not strong and not capitalised[i]:
                    continue
                given = _fold(texts[i]) in lexicon
                if cue is _LEXICON_CUE and not given:
                    continue
                j = run_from(i, any_case=strong)
                if j == i:
                    continue
                if j < count and _STREET_WORD.fullmatch(texts[j]):
                    continue  # "Queen Street", "Albert Road"
                given = given and (keys[i] not in AMBIGUOUS or j - i > 1)
                if cue is _WEAK_CUE and not (given or j - i > 1 or keys[i] in self._by_word):
                    continue  # a weak cue needs a given name, two words, or a known word
                if cue is _LEXICON_CUE and not given:
                    continue
                found.append((i, j))
        # 3. answers to a name question
        turns = list(_SPEAKER.finditer(text))
        if len(turns) > 1:
            lowered = text.lower()
            # Where lower() keeps every offset (nearly always), a cheap test skips most turns.
            aligned = len(lowered) == len(text)
            for previous, turn in zip(turns, turns[1:], strict=False):
                asked_from, asked_to = previous.end(), turn.start()
                if aligned and not _may_ask_name(lowered[asked_from:asked_to]):
                    continue
                if not _NAME_QUESTION.search(text, asked_from, asked_to):
                    continue
                i = bisect_left(starts, turn.end())  # the turn's first word
                if i == count:
                    continue
                lowercase = not any(capitalised[i : i + 6])
                while i < count and keys[i] in _REPLY_FILLERS:
                    i += 1
                if i < count:
                    j = run_from(i, any_case=lowercase, periods=True)
                    if j > i:
                        found.append((i, j))
        # 4. titles
        if not present.isdisjoint(TITLES):
            for n in [n for n, key in enumerate(keys) if key in TITLES]:
                if n == count - 1 or not capitalised[n]:
                    continue
                k = n + 1
                while k < count - 1 and keys[k] in PARTICLES:
                    k += 1
                if text[ends[n] : starts[n + 1]] in (" ", ". ") and capitalised[k]:
                    j = run_from(k, any_case=False, limit=2)
                    if j > k:
                        found.append((n, j))
        # 5. spelling
        spelled: list[tuple[int, int, str]] = []
        last_spelled = -1
        for n in _MAY_SPELL.select(texts):
            word, start = texts[n], starts[n]
            # "C-H-E-N" is one word, "N.G.U.Y.E.N" starts with a word of one letter.
            if start > last_spelled and (len(word) == 1 or len(word) >= 5 and word[1] == "-"):
                match = _SPELLED.match(text, start)
                if match is not None and not _inside(taken, match.start(), match.end()):
                    letters = re.sub(r"[^A-Za-z]", "", match.group())
                    spelled.append((match.start(), match.end(), letters.casefold()))
                    last_spelled = match.end()
            elif keys[n] in _SPELLING_CUES:
                match = _SPELLED_SPACED.match(text, start)
                if match is not None and not _inside(taken, match.start(1), match.end(1)):
                    letters = match.group(1).replace(" ", "")
                    spelled.append((match.start(1), match.end(1), letters.casefold()))
        spelled_words = {letters for _s, _e, letters in spelled}
        # 6. the lexicon
        for n in _CAPITALISED_GIVEN_NAME.select(texts):
            word = texts[n]
            key = keys[n]
            if key in STOPWORDS and (
                _sentence_start(text, starts[n]) or not (n + 1 < count and capitalised[n + 1])
            ):
                continue  # "My NHS number", "Will I …?"
            if _STREET_WORD.fullmatch(word):
                continue  # "Mill Lane"
            if key in NOT_NAMES:
                continue
            j = run_from(n, any_case=False)
            if j == n and key in not_names:
                continue  # the business's own name alone: its agent's persona
            if j < count and _STREET_WORD.fullmatch(texts[j]):
                continue  # "Queen Street"
            if j > n + 1 or (
                len(key) > 2
                and not word.isupper()
                and not (key in AMBIGUOUS and _sentence_start(text, starts[n]))
            ):
                found.append((n, max(j, n + 1)))

        # Words of names found: every occurrence of them is a mention too.
        mentions: dict[int, tuple[int, Person]] = {}
        covered = [False] * count
        for i, j in sorted(found, key=lambda r: (r[0], -r[1])):
            person = self._person(keys[i:j], " ".join(texts[i:j]))
            if covered[i]:
                continue
            mentions[i] = (j, person)
            covered[i:j] = [True] * (j - i)
        by_word = self._by_word
        named = present.intersection(by_word.keys() | spelled_words)
        for n in [n for n, key in enumerate(keys) if key in named] if named else ():
            key = keys[n]
            if covered[n]:
                continue
            if key in spelled_words and key not in by_word and len(key) > 2:
                self._person([key], texts[n])
            person = by_word.get(key)
            if person is None or key in not_names:
                continue
            following = keys[n + 1] if n + 1 < count else None
            if key in NOT_NAMES and not (following in person.words and following != key):
                continue  # "June" the month, once "June Carter" was found
            # "Will you be there?", "I hope so": such a word names the person only when
            # capitalised and not starting a sentence, or next to another of their words.
            if (key in AMBIGUOUS or key in STOPWORDS) and (
                not capitalised[n]
                or _sentence_start(text, starts[n])
                and following not in person.words
            ):
                continue
            mentions[n] = (n + 1, person)
        out = [(starts[i], ends[j - 1], person) for i, (j, person) in sorted(mentions.items())]
        for start, end, letters in spelled:
            person = by_word.get(letters)
            if person is None:
                person = self._person([letters], text[start:end])
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
