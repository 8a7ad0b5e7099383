"""A small sign grammar that realises one meaning as a gloss sequence and as English text.

A ``Meaning`` is a frame (kind, subject, verb, object, adjective, number, time, negation).
The gloss side follows common sign-language glossing conventions:

- time first, then topic-comment / SOV order: ``YESTERDAY IX-1 STORE GO``; the object may be
  topicalised before a pronoun subject (``STORE IX-1 GO``, with raised brows over the topic);
  a noun subject may be followed by the pointing sign ``IX-3`` (``TEACHER IX-3 HAPPY``);
- adjectives and numbers follow the noun (``CAR RED TWO``); plural is only marked by a number;
- negation is a trailing ``NOT`` (with a head shake); wh-questions end in ``WHERE`` /
  ``WHAT`` / ``WHO`` (with furrowed brows over the whole question);
- no articles, copula, auxiliaries, prepositions or inflection.

The English side adds what the glosses leave out: tense from the time sign (went / goes /
will go; was / is / will be), do-support for negation and questions (did not, does not,
what did you ...), agreement (he eats), articles (the, a/an by verb), prepositions (go to),
plural -s after numbers, adjectives before the noun, the time phrase at the end and the
final ``.`` or ``?``. Everything is a deterministic function of the meaning, so the text is
learnable from the glosses (plus, for SLT, from the signing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRONOUNS: dict[str, tuple[str, str]] = {"IX-1": ("i", "1"), "IX-2": ("you", "2"),
                                        "IX-3": ("he", "3")}
TIMES: dict[str, tuple[str, str]] = {
    "YESTERDAY": ("yesterday", "past"), "LAST-WEEK": ("last week", "past"),
    "TODAY": ("today", "present"), "TOMORROW": ("tomorrow", "future"),
    "NEXT-WEEK": ("next week", "future"),
}
NUMBERS: dict[str, str] = {"TWO": "two", "THREE": "three", "MANY": "many"}
WH = ("WHERE", "WHAT", "WHO")
NEG = "NOT"
#: The closed-class glosses every lexicon holds.
CLOSED = tuple(PRONOUNS) + tuple(TIMES) + (NEG,) + WH + tuple(NUMBERS)
MIN_VOCAB = len(CLOSED) + 4  # the closed classes plus at least a few open-class glosses

NOUNS: dict[str, tuple[str, ...]] = {
    "place": ("STORE", "SCHOOL", "HOUSE", "PARK", "CHURCH", "LIBRARY", "HOSPITAL",
              "RESTAURANT", "OFFICE", "BEACH", "CITY", "FARM", "AIRPORT", "BANK", "MUSEUM",
              "ZOO", "GARDEN", "KITCHEN"),
    "food": ("APPLE", "BREAD", "CAKE", "SOUP", "EGG", "FISH", "RICE", "PIZZA", "BANANA",
             "CHEESE", "SANDWICH", "COOKIE", "CHICKEN", "SALAD", "ORANGE"),
    "drink": ("COFFEE", "TEA", "MILK", "JUICE", "WATER"),
    "thing": ("CAR", "PHONE", "BALL", "SHIRT", "BAG", "COMPUTER", "TICKET", "BIKE", "HAT",
              "KEY", "CHAIR", "TABLE", "CLOCK", "PEN", "CAMERA", "UMBRELLA"),
    "text": ("BOOK", "LETTER", "NEWSPAPER", "STORY", "MAGAZINE"),
    "person": ("MOTHER", "FATHER", "FRIEND", "TEACHER", "DOCTOR", "BROTHER", "SISTER",
               "BABY", "STUDENT", "NURSE", "NEIGHBOR", "BOSS", "UNCLE", "AUNT", "GIRL", "BOY"),
    "animal": ("DOG", "CAT", "HORSE", "BIRD", "RABBIT", "COW", "DUCK"),
}
NOUN_CLASS: dict[str, str] = {g: c for c, gs in NOUNS.items() for g in gs}
#: Mass nouns take no number and always the definite article.
MASS = frozenset({"SOUP", "RICE", "BREAD", "CHEESE", "COFFEE", "TEA", "MILK", "JUICE",
                  "WATER", "SALAD", "CHICKEN", "FISH"})


@dataclass(frozen=True)
class Verb:
    """A verb: English forms, the noun classes it takes as object, preposition and article."""

    base: str
    s3: str
    past: str
    objects: frozenset[str]
    prep: str = ""
    article: str = "the"


def _verb(base: str, s3: str, past: str, objects: str, prep: str = "",
          article: str = "the") -> Verb:
    return Verb(base, s3, past, frozenset(objects.split()), prep, article)


VERBS: dict[str, Verb] = {
    "GO": _verb("go", "goes", "went", "place", "to"),
    "VISIT": _verb("visit", "visits", "visited", "place person"),
    "LEAVE": _verb("leave", "leaves", "left", "place"),
    "EAT": _verb("eat", "eats", "ate", "food"),
    "DRINK": _verb("drink", "drinks", "drank", "drink"),
    "COOK": _verb("cook", "cooks", "cooked", "food"),
    "BUY": _verb("buy", "buys", "bought", "food drink thing text", article="a"),
    "SELL": _verb("sell", "sells", "sold", "food thing text animal"),
    "WANT": _verb("want", "wants", "wanted", "food drink thing text animal", article="a"),
    "LIKE": _verb("like", "likes", "liked", "place food drink thing text person animal"),
    "SEE": _verb("see", "sees", "saw", "place thing person animal"),
    "HAVE": _verb("have", "has", "had", "thing text animal", article="a"),
    "READ": _verb("read", "reads", "read", "text"),
    "WRITE": _verb("write", "writes", "wrote", "text", article="a"),
    "FIND": _verb("find", "finds", "found", "thing text animal"),
    "LOSE": _verb("lose", "loses", "lost", "thing text"),
    "HELP": _verb("help", "helps", "helped", "person"),
    "MEET": _verb("meet", "meets", "met", "person"),
    "CALL": _verb("call", "calls", "called", "person"),
    "LOVE": _verb("love", "loves", "loved", "person animal"),
    "FEED": _verb("feed", "feeds", "fed", "animal person"),
    "WASH": _verb("wash", "washes", "washed", "thing animal"),
    "MAKE": _verb("make", "makes", "made", "food thing", article="a"),
    "CARRY": _verb("carry", "carries", "carried", "thing text person animal"),
}

_ALL = "place food drink thing text person animal"
ADJECTIVES: dict[str, frozenset[str]] = {g: frozenset(c.split()) for g, c in {
    "BIG": "place thing animal food", "SMALL": "place thing animal food",
    "NEW": "place thing text", "OLD": "place thing text person animal",
    "RED": "thing", "BLUE": "thing", "GREEN": "thing", "HOT": "food drink",
    "COLD": "food drink", "GOOD": _ALL, "BAD": _ALL,
    "BEAUTIFUL": "place thing animal person", "EXPENSIVE": "thing food drink",
    "CHEAP": "thing food drink", "HAPPY": "person animal", "SAD": "person animal",
    "TIRED": "person animal", "SICK": "person animal", "HUNGRY": "person animal",
    "FAST": "thing animal", "FUNNY": "text person",
}.items()}

OPEN_CLASS: dict[str, tuple[str, ...]] = {
    "noun": tuple(NOUN_CLASS), "verb": tuple(VERBS), "adj": tuple(ADJECTIVES)}
KINDS = ("action", "state", "where", "what", "who")
_KIND_WEIGHTS = (0.5, 0.2, 0.12, 0.1, 0.08)


@dataclass(frozen=True)
class Meaning:
    """One sentence meaning; ``gloss`` and ``text`` realise it.

    kind: 'action' (subject verb object), 'state' (subject is adjective), 'where' (where is
    the object / where does the subject go), 'what' (what does the subject verb), 'who'
    (who verbs the object). ``adj`` modifies the object (action, where, who) or is the
    predicate (state); ``number`` pluralises the object. ``topic`` moves the object before
    the subject in the glosses; ``point`` adds IX-3 after a noun subject.
    """

    kind: str
    subject: str | None = None
    verb: str | None = None
    obj: str | None = None
    adj: str | None = None
    number: str | None = None
    time: str | None = None
    negated: bool = False
    topic: bool = False
    point: bool = False


def english_word(gloss: str) -> str:
    """The English citation form of one gloss (what an isolated sign means)."""
    if gloss in PRONOUNS:
        return PRONOUNS[gloss][0]
    if gloss in TIMES:
        return TIMES[gloss][0]
    if gloss in NUMBERS:
        return NUMBERS[gloss]
    if gloss in VERBS:
        return VERBS[gloss].base
    return gloss.lower()


def plural(noun: str) -> str:
    """English plural of a lowercase noun (regular rules: -s, -es, -ies)."""
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _article(article: str, next_word: str) -> str:
    if article == "a" and next_word[0] in "aeiou":
        return "an"
    return article


class Grammar:
    """The grammar restricted to the glosses of one lexicon; samples and realises meanings."""

    def __init__(self, glosses: list[str], length: tuple[int, int] = (3, 8)) -> None:
        have = set(glosses)
        missing = [g for g in CLOSED if g not in have]
        if missing:
            raise ValueError(f"the lexicon lacks the closed-class glosses {missing}")
        self.length = length
        self.nouns = [g for g in glosses if g in NOUN_CLASS]
        self.verbs = [g for g in glosses if g in VERBS]
        self.adjs = [g for g in glosses if g in ADJECTIVES]
        self.times = list(TIMES)
        self.pronouns = list(PRONOUNS)
        classes = {NOUN_CLASS[n] for n in self.nouns}
        self.verbs = [v for v in self.verbs if VERBS[v].objects & classes]
        if not self.verbs:
            raise ValueError("the lexicon has no verb with an object noun")

    # -- sampling ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Meaning:
        """Draw a meaning whose gloss sequence length lies in ``self.length``."""
        lo, hi = self.length
        while True:
            kind = str(rng.choice(KINDS, p=_KIND_WEIGHTS))
            meaning = getattr(self, f"_sample_{kind}")(rng)
            if meaning is not None and lo <= len(self.gloss(meaning)) <= hi:
                return meaning

    def _pick(self, rng: np.random.Generator, items: list[str]) -> str | None:
        return str(items[int(rng.integers(len(items)))]) if items else None

    def _subject(self, rng: np.random.Generator, animals: bool = False, first: bool = True
                 ) -> tuple[str, bool]:
        """A pronoun or a person (or animal) noun, and whether IX-3 points at the noun."""
        kinds = ("person", "animal") if animals else ("person",)
        nouns = [n for n in self.nouns if NOUN_CLASS[n] in kinds]
        if nouns and rng.random() < 0.35:
            return self._pick(rng, nouns), bool(rng.random() < 0.3)
        return self._pick(rng, self.pronouns if first else self.pronouns[1:]), False

    def _object(self, rng: np.random.Generator, verb: str
                ) -> tuple[str | None, str | None, str | None]:
        obj = self._pick(rng, [n for n in self.nouns if NOUN_CLASS[n] in VERBS[verb].objects])
        if obj is None:
            return None, None, None
        adj = number = None
        if rng.random() < 0.35:
            adj = self._pick(rng, [a for a in self.adjs if NOUN_CLASS[obj] in ADJECTIVES[a]])
        if obj not in MASS and rng.random() < 0.25:
            number = self._pick(rng, list(NUMBERS))
        return obj, adj, number

    def _time(self, rng: np.random.Generator) -> str | None:
        return self._pick(rng, self.times) if rng.random() < 0.5 else None

    def _sample_action(self, rng: np.random.Generator) -> Meaning | None:
        subject, point = self._subject(rng)
        verb = self._pick(rng, self.verbs)
        obj, adj, number = self._object(rng, verb)
        if obj is None:
            return None
        topic = subject in PRONOUNS and bool(rng.random() < 0.3)   # unambiguous order
        return Meaning("action", subject, verb, obj, adj, number, self._time(rng),
                       bool(rng.random() < 0.2), topic, point)

    def _sample_state(self, rng: np.random.Generator) -> Meaning | None:
        subject, point = self._subject(rng, animals=True)
        if subject not in PRONOUNS and rng.random() < 0.3:
            subject, point = self._pick(rng, self.nouns), bool(rng.random() < 0.3)
        cls = NOUN_CLASS.get(subject, "person")
        adj = self._pick(rng, [a for a in self.adjs if cls in ADJECTIVES[a]])
        if adj is None:
            return None
        return Meaning("state", subject, adj=adj, time=self._time(rng),
                       negated=bool(rng.random() < 0.25), point=point)

    def _sample_where(self, rng: np.random.Generator) -> Meaning | None:
        go = [v for v in self.verbs if v in ("GO", "VISIT")]
        if go and rng.random() < 0.5:
            subject, point = self._subject(rng, first=False)
            return Meaning("where", subject, self._pick(rng, go), time=self._time(rng),
                           point=point)
        things = [n for n in self.nouns if NOUN_CLASS[n] not in ("place", "drink")]
        obj = self._pick(rng, things)
        if obj is None:
            return None
        adj = self._pick(rng, [a for a in self.adjs if NOUN_CLASS[obj] in ADJECTIVES[a]])
        number = self._pick(rng, list(NUMBERS)[:2]) if obj not in MASS else None
        keep_adj, keep_num = rng.random() < 0.7, rng.random() < 0.4
        return Meaning("where", obj=obj, adj=adj if keep_adj else None,
                       number=number if keep_num else None)

    def _sample_what(self, rng: np.random.Generator) -> Meaning | None:
        verbs = [v for v in self.verbs
                 if VERBS[v].objects & {"food", "drink", "thing", "text"} and not VERBS[v].prep]
        verb = self._pick(rng, verbs)
        if verb is None:
            return None
        subject, point = self._subject(rng, first=False)
        return Meaning("what", subject, verb, time=self._time(rng), point=point)

    def _sample_who(self, rng: np.random.Generator) -> Meaning | None:
        verb = self._pick(rng, [v for v in self.verbs if not VERBS[v].prep])
        if verb is None:
            return None
        obj, adj, number = self._object(rng, verb)
        if obj is None:
            return None
        return Meaning("who", verb=verb, obj=obj, adj=adj, number=number, time=self._time(rng))

    # -- realisation --------------------------------------------------------------------------
    def gloss(self, m: Meaning) -> list[str]:
        """The gloss sequence of a meaning."""
        time = [m.time] if m.time else []
        subj = ([m.subject] + (["IX-3"] if m.point and m.subject not in PRONOUNS else [])
                if m.subject else [])
        obj = [g for g in (m.obj, m.adj, m.number) if g] if m.kind != "state" else []
        if m.kind == "action":
            head = obj + subj if m.topic else subj + obj
            return time + head + [m.verb] + ([NEG] if m.negated else [])
        if m.kind == "state":
            return time + subj + [m.adj] + ([NEG] if m.negated else [])
        if m.kind == "where":
            return (time + subj + [m.verb] if m.verb else obj) + ["WHERE"]
        if m.kind == "what":
            return time + subj + [m.verb, "WHAT"]
        return time + obj + [m.verb, "WHO"]

    def brows(self, m: Meaning) -> list[float]:
        """Brow position per gloss: raised (+1) over a topic, furrowed (-1) in wh-questions."""
        glosses = self.gloss(m)
        if m.kind in ("where", "what", "who"):
            return [-1.0] * len(glosses)
        brows = [0.0] * len(glosses)
        if m.topic:
            first = 1 if m.time else 0
            n_topic = sum(1 for g in (m.obj, m.adj, m.number) if g)
            brows[first:first + n_topic] = [1.0] * n_topic
        return brows

    def text(self, m: Meaning) -> str:
        """The English sentence of a meaning (lowercase, tokens separated by spaces)."""
        tense = TIMES[m.time][1] if m.time else "present"
        when = [TIMES[m.time][0]] if m.time else []
        if m.kind == "where" and m.verb is None:
            be = "are" if m.number else "is"
            return " ".join(["where", be, *self._noun_phrase(m, "the"), "?"])
        subj, third = self._subject_text(m.subject) if m.subject else (["who"], True)
        if m.kind == "state":
            words = subj + self._be(tense, m.subject, m.negated) + [english_word(m.adj)]
            return " ".join(words + when + ["."])
        verb = VERBS[m.verb]
        if m.kind in ("where", "what"):
            aux = {"past": "did", "future": "will"}.get(tense, "does" if third else "do")
            wh = "where" if m.kind == "where" else "what"
            return " ".join([wh, aux, *subj, verb.base, *when, "?"])
        if m.negated:
            aux = {"past": "did", "future": "will"}.get(tense, "does" if third else "do")
            vp = [aux, "not", verb.base]
        elif tense == "future":
            vp = ["will", verb.base]
        else:
            vp = [verb.past if tense == "past" else verb.s3 if third else verb.base]
        obj = ([verb.prep] if verb.prep else []) + self._noun_phrase(m, verb.article)
        end = "?" if m.kind == "who" else "."
        return " ".join(subj + vp + obj + when + [end])

    def _subject_text(self, subject: str) -> tuple[list[str], bool]:
        if subject in PRONOUNS:
            word, person = PRONOUNS[subject]
            return [word], person == "3"
        return ["the", english_word(subject)], True

    def _be(self, tense: str, subject: str, negated: bool) -> list[str]:
        person = PRONOUNS[subject][1] if subject in PRONOUNS else "3"
        if tense == "future":
            return ["will", "not", "be"] if negated else ["will", "be"]
        forms = ({"1": "am", "2": "are", "3": "is"} if tense == "present"
                 else {"1": "was", "2": "were", "3": "was"})
        return [forms[person]] + (["not"] if negated else [])

    def _noun_phrase(self, m: Meaning, article: str) -> list[str]:
        noun = english_word(m.obj)
        adj = [english_word(m.adj)] if m.adj else []
        if m.number:
            det = (["the"] if article == "the" and m.kind == "where" else [])
            return [*det, NUMBERS[m.number], *adj, plural(noun)]
        article = "the" if m.obj in MASS else article
        return [_article(article, [*adj, noun][0]), *adj, noun]

    def vocabulary(self) -> set[str]:
        """Every token the English side can produce with this lexicon."""
        words = {"the", "a", "an", "to", "not", "do", "does", "did", "will", "be", "am", "is",
                 "are", "was", "were", "where", "what", "who", ".", "?"}
        words |= {w for g in self.pronouns + self.times for w in english_word(g).split()}
        words |= set(NUMBERS.values())
        words |= {english_word(n) for n in self.nouns}
        words |= {plural(english_word(n)) for n in self.nouns if n not in MASS}
        words |= {english_word(a) for a in self.adjs}
        for v in self.verbs:
            words |= {VERBS[v].base, VERBS[v].s3, VERBS[v].past, VERBS[v].prep} - {""}
        return words


def choose_glosses(rng: np.random.Generator, n: int) -> list[str]:
    """Pick ``n`` glosses: all closed-class ones plus nouns, verbs and adjectives that fit."""
    m = n - len(CLOSED)
    if n < MIN_VOCAB:
        raise ValueError(f"vocab_size must be at least {MIN_VOCAB}, got {n}")
    n_verb, n_adj = max(1, round(0.3 * m)), max(1, round(0.22 * m))
    n_noun = m - n_verb - n_adj
    classes = list(NOUNS)
    rng.shuffle(classes)
    pools = {c: list(rng.permutation(NOUNS[c])) for c in classes}
    nouns: list[str] = []
    while len(nouns) < n_noun and any(pools.values()):
        for c in classes:
            if pools[c] and len(nouns) < n_noun:
                nouns.append(str(pools[c].pop()))
    have = {NOUN_CLASS[g] for g in nouns} | {"person"}
    verbs = [v for v in VERBS if VERBS[v].objects & have]
    adjs = [a for a in ADJECTIVES if ADJECTIVES[a] & have]
    n_verb = min(n_verb, len(verbs))
    n_adj = min(n_adj, len(adjs))
    chosen = (nouns + [str(v) for v in rng.choice(verbs, n_verb, replace=False)]
              + [str(a) for a in rng.choice(adjs, n_adj, replace=False)])
    short = n - len(CLOSED) - len(chosen)
    if short > 0:  # too few verbs/adjectives fit: fill with further nouns
        rest = [str(g) for c in classes for g in pools[c]]
        if short > len(rest):
            most = len(CLOSED) + len(chosen) + len(rest)
            raise ValueError(f"vocab_size {n} exceeds the {most} glosses the word lists hold")
        chosen += rest[:short]
    return list(CLOSED) + chosen
