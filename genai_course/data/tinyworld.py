"""TinyWorld: a generated fictional world of people whose every fact is known exactly.

Each person has a name, a pronoun (``he``/``she``), a city, a job, a pet and an age, plus a
favourite colour that no shipped model is ever trained on (chapter 7 teaches it as a new
relation). The people are split once, by the world's seed, into

* ``"trained"``: their documents are in TinyChat's training text (closed-book questions about
  them measure what the model *knows*), and
* ``"held_back"``: their documents exist only in the retrieval corpus (chapter 9's RAG), so a
  closed-book answer about them is a guess, and "answering without knowing" is measurable.

Jobs co-occur with pronouns with a known skew (``job_skew``: the probability that a person's
job comes from the half of the jobs associated with their pronoun; 0.5 is no skew), so the
bias a model picks up from the text can be compared with the bias in the data (chapter 10).

Documents are short biographies written in a few phrasings and sentence orders (Allen-Zhu &
Li 2023, "Physics of language models 3.1": varied phrasings help a model extract knowledge).

Used in: chapters 6, 7, 8, 9, 10.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from genai_course.core.checks import check_int, check_number

CITIES: tuple[str, ...] = ("Brindle", "Korvel", "Dunmore", "Halvig", "Pellin", "Ostra",
                           "Varrow", "Quenby", "Tamsel", "Ebberly", "Lunwick", "Marrow")
#: The first half of the jobs is associated with "he", the second with "she" (see job_skew).
JOBS: tuple[str, ...] = ("miner", "sailor", "builder", "farmer", "smith", "guard",
                         "baker", "weaver", "nurse", "singer", "potter", "teacher")
PETS: tuple[str, ...] = ("cat", "dog", "owl", "goat", "fox", "rabbit", "turtle", "parrot")
COLOURS: tuple[str, ...] = ("red", "blue", "green", "yellow", "black", "white", "purple",
                            "orange")
AGES: tuple[int, int] = (18, 79)
PRONOUNS: tuple[str, ...] = ("he", "she")

#: Attributes in TinyChat's training text; ``colour`` is reserved for chapter 7.
TRAINED_ATTRIBUTES: tuple[str, ...] = ("city", "job", "pet", "age")
ATTRIBUTES: tuple[str, ...] = (*TRAINED_ATTRIBUTES, "colour")
#: The values an attribute can take (as answer strings).
VALUES: dict[str, tuple[str, ...]] = {
    "city": CITIES, "job": JOBS, "pet": PETS, "colour": COLOURS,
    "age": tuple(str(a) for a in range(AGES[0], AGES[1] + 1)),
}

#: Questions per attribute; ``{name}`` is the person's full name.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "city": ("Where does {name} live?", "In which city does {name} live?",
             "What is the home town of {name}?"),
    "job": ("What is the job of {name}?", "What does {name} do for a living?",
            "What work does {name} do?"),
    "pet": ("What pet does {name} have?", "Which animal does {name} keep?",
            "What kind of pet does {name} own?"),
    "age": ("How old is {name}?", "What is the age of {name}?",
            "How many years old is {name}?"),
    "colour": ("What is the favourite colour of {name}?", "Which colour does {name} like best?",
               "What colour does {name} love?"),
}

#: Sentences of a biography per attribute: ``{subj}`` (the name, then He/She), ``{poss}``
#: (its possessive), ``{a}`` (the article of the value) and ``{value}``.
_SENTENCES: dict[str, tuple[str, ...]] = {
    "city": ("{subj} lives in {value}.", "{subj} has a home in {value}.",
             "{subj} is from {value}."),
    "job": ("{subj} works as {a} {value}.", "{subj} is {a} {value} by trade.",
            "{subj} earns a living as {a} {value}."),
    "pet": ("{subj} has {a} {value}.", "{subj} keeps {a} {value} as a pet.",
            "{subj} owns a pet {value}."),
    "age": ("{subj} is {value} years old.", "{subj} is {value}.",
            "{subj} has lived {value} years."),
    "colour": ("{poss} favourite colour is {value}.", "{subj} likes {value} best.",
               "{subj} loves the colour {value}."),
}

_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br",
           "dr", "gr", "kr", "tr", "st", "sh", "th")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io")
_CODAS = ("", "", "n", "l", "r", "s", "m", "th", "x")

SPLITS = ("trained", "held_back")
WORLD_SEED = 0


@dataclass(frozen=True)
class Person:
    """One inhabitant of TinyWorld; ``split`` says whether their documents are trained on."""

    name: str
    pronoun: str
    city: str
    job: str
    pet: str
    age: int
    colour: str
    split: str

    def value(self, attribute: str) -> str:
        """The answer string of ``attribute`` (``"34"`` for the age)."""
        if attribute not in ATTRIBUTES:
            raise ValueError(f"attribute must be one of {ATTRIBUTES}, got {attribute!r}")
        return str(getattr(self, attribute))


@dataclass(frozen=True)
class Document:
    """A short biography of one person: ``doc_id`` is ``"<name>#<variant>"``."""

    doc_id: str
    person: str
    text: str


def _syllables(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                   for _ in range(n))


def random_name(rng: random.Random) -> str:
    """A fictional "First Last" name from a syllable grammar (no real names by design)."""
    first = _syllables(rng, rng.choice((1, 2)))
    last = _syllables(rng, 2)
    return f"{first.capitalize()} {last.capitalize()}"


def random_person(rng: random.Random, split: str = "held_back", job_skew: float = 0.5,
                  taken: set[str] | frozenset[str] = frozenset()) -> Person:
    """A person drawn with ``rng`` (a name not in ``taken``); used for the world and for fresh
    people outside it (reading-comprehension practice that no memory can answer)."""
    name = random_name(rng)
    while name in taken:
        name = random_name(rng)
    pronoun = rng.choice(PRONOUNS)
    half = len(JOBS) // 2
    own = JOBS[:half] if pronoun == "he" else JOBS[half:]
    other = JOBS[half:] if pronoun == "he" else JOBS[:half]
    job = rng.choice(own if rng.random() < job_skew else other)
    return Person(name=name, pronoun=pronoun, city=rng.choice(CITIES), job=job,
                  pet=rng.choice(PETS), age=rng.randint(*AGES), colour=rng.choice(COLOURS),
                  split=split)


def biography(person: Person, attributes: tuple[str, ...] = TRAINED_ATTRIBUTES,
              variant: int = 0) -> str:
    """The biography of ``person`` stating ``attributes``; ``variant`` picks the phrasing
    and the order of the sentences (variant 0 is the canonical order and phrasing)."""
    rng = random.Random(f"{person.name}/{variant}")
    order = list(attributes)
    if variant:
        rng.shuffle(order)
    pron = person.pronoun.capitalize()
    poss = "His" if person.pronoun == "he" else "Her"
    sentences = []
    for i, attribute in enumerate(order):
        templates = _SENTENCES[attribute]
        template = templates[0] if variant == 0 else rng.choice(templates)
        subj = person.name if i == 0 else pron
        poss_i = f"{person.name}'s" if i == 0 else poss
        value = person.value(attribute)
        article = "an" if value[0] in "aeiou" else "a"
        sentences.append(template.format(subj=subj, poss=poss_i, a=article, value=value))
    return " ".join(sentences)


class TinyWorld:
    """``n_people`` people generated from ``seed``; a fraction ``held_back`` of them is held
    back from training. Everything is a pure function of the arguments."""

    def __init__(self, seed: int = WORLD_SEED, n_people: int = 200, held_back: float = 0.5,
                 job_skew: float = 0.75) -> None:
        self.seed = check_int(seed, "seed")
        n_people = check_int(n_people, "n_people", minimum=2)
        if not 0.0 < check_number(held_back, "held_back") < 1.0:
            raise ValueError(f"held_back must be strictly between 0 and 1, got {held_back}")
        if not 0.0 <= check_number(job_skew, "job_skew") <= 1.0:
            raise ValueError(f"job_skew must be in [0, 1], got {job_skew}")
        self.job_skew = job_skew
        rng = random.Random(f"tinyworld/{seed}")
        n_held = round(n_people * held_back)
        held = set(rng.sample(range(n_people), n_held))
        people: list[Person] = []
        taken: set[str] = set()
        for i in range(n_people):
            split = "held_back" if i in held else "trained"
            person = random_person(rng, split, job_skew, taken)
            taken.add(person.name)
            people.append(person)
        self.people: tuple[Person, ...] = tuple(people)
        self._by_name = {p.name: p for p in people}

    def person(self, name: str) -> Person:
        """The person called ``name`` (``KeyError`` naming it if there is none)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no person named {name!r} in this TinyWorld") from None

    def people_in(self, split: str) -> list[Person]:
        """The people of ``split`` (``"trained"`` or ``"held_back"``), in world order."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [p for p in self.people if p.split == split]

    def documents(self, split: str | None = None, variants: int = 1,
                  attributes: tuple[str, ...] = TRAINED_ATTRIBUTES) -> list[Document]:
        """Biographies of the people of ``split`` (everyone for ``None``), ``variants``
        phrasings each (variant 0 first). The retrieval corpus of chapter 9 is
        ``documents()``; TinyChat trains on ``documents("trained", variants=...)``."""
        people = self.people if split is None else self.people_in(split)
        return [Document(f"{p.name}#{v}", p.name, biography(p, attributes, v))
                for p in people for v in range(check_int(variants, "variants", 1))]

    def facts(self, split: str | None = None,
              attributes: tuple[str, ...] = TRAINED_ATTRIBUTES) -> list[tuple[str, str, str]]:
        """``(name, attribute, value)`` for the people of ``split``."""
        people = self.people if split is None else self.people_in(split)
        return [(p.name, a, p.value(a)) for p in people for a in attributes]

    def job_pronoun_counts(self) -> dict[str, dict[str, int]]:
        """``{job: {"he": n, "she": n}}``: the skew of the data, for chapter 10."""
        counts = {job: {"he": 0, "she": 0} for job in JOBS}
        for p in self.people:
            counts[p.job][p.pronoun] += 1
        return counts


@functools.lru_cache(maxsize=1)
def default_world() -> TinyWorld:
    """The world TinyChat is trained on (``TinyWorld(WORLD_SEED)``)."""
    return TinyWorld(WORLD_SEED)
