"""Python's own documentation as a search corpus: real English that ships with Python.

``pydoc_data.topics`` (in the standard library; it is what ``help("with")`` prints) holds
about eighty topics of the language reference. :func:`pydoc_passages` cuts them into
passages of about a hundred words, each starting with its topic's title (as DPR prefixes
Wikipedia passages with the article title). :data:`QUERIES` are questions written for this
course in everyday words, each labelled with the topics that answer it, so recall@k can be
measured on real text.

Used in: chapter 9.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: Topics that repeat other topics word for word ("compound" holds every compound statement,
#: "specialnames" every special-method topic, "else" is the "if" topic again).
REPEATED_TOPICS = ("compound", "specialnames", "else")


@dataclass(frozen=True)
class Passage:
    """A passage of topic ``topic``: its title line, then about ``words`` words of text."""

    topic: str
    title: str
    text: str


def _paragraphs(text: str) -> list[str]:
    lines = [line for line in text.splitlines()
             if not (line.strip() and set(line.strip()) <= set("*=-"))]  # drop underlines
    paragraphs, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


@lru_cache(maxsize=4)
def pydoc_passages(words: int = 100) -> tuple[Passage, ...]:
    """Every topic of ``pydoc_data.topics`` (but :data:`REPEATED_TOPICS`) cut into passages:
    consecutive paragraphs are joined until a passage has at least ``words`` words."""
    from pydoc_data.topics import topics

    out = []
    for topic in sorted(topics):
        if topic in REPEATED_TOPICS:
            continue
        paragraphs = _paragraphs(topics[topic])
        title, body = paragraphs[0], paragraphs[1:] or paragraphs
        chunk: list[str] = []
        for paragraph in body:
            chunk.append(paragraph)
            if sum(len(p.split()) for p in chunk) >= words:
                out.append(Passage(topic, title, f"{title}. " + " ".join(chunk)))
                chunk = []
        if chunk:
            out.append(Passage(topic, title, f"{title}. " + " ".join(chunk)))
    return tuple(out)


#: Questions a learner might type, each with the topics that answer it (written for this
#: course; the labels were checked against the topics' text).
QUERIES: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (question, frozenset(labels.split())) for question, labels in [
        ("how do I catch an error and always run clean-up code", "try"),
        ("leave a loop before it finishes", "break"),
        ("skip the rest of this loop iteration and go to the next one", "continue"),
        ("make a small anonymous function in one expression", "lambda"),
        ("change a module level variable from inside a function", "global"),
        ("assign to a variable of the enclosing function from a nested one", "nonlocal"),
        ("produce values one at a time from a generator function", "yield"),
        ("fill placeholders in curly braces with values and format specifiers", "formatstrings"),
        ("split a string at whitespace and join words back together", "string-methods"),
        ("which operators bind more tightly than others", "operator-summary"),
        ("add items to the end of a list, insert, remove and pop", "typesseq-mutable"),
        ("bitwise and, or and exclusive or of integers", "bitwise"),
        ("move the bits of a number to the left", "shifting"),
        ("signal an error by throwing an exception object", "raise"),
        ("check a condition while debugging and stop if it is false", "assert"),
        ("load code from another module or package", "import"),
        ("what counts as false in an if condition", "truth"),
        ("chain comparisons like a < b < c", "comparisons"),
        ("take every second element of a sequence with start stop and step", "slicings"),
        ("raise a number to a power", "power"),
        ("run a loop as long as a condition holds", "while"),
        ("remove a name binding or delete an item of a list", "del"),
        ("hexadecimal, octal and binary integer literals", "integers"),
        ("write a number with an exponent like 1e-3", "floating"),
        ("complex numbers with an imaginary part", "imaginary"),
        ("use an object in a with block by defining __enter__ and __exit__",
         "context-managers with"),
        ("control what happens when an attribute is not found with __getattr__",
         "attribute-access"),
        ("define __repr__ and __eq__ for my own class", "customization"),
        ("how are names resolved, local, enclosing and global scopes", "naming execmodel"),
        ("wait for a coroutine to finish inside an async function", "await async"),
        ("the object that represents no value", "bltin-null-object"),
        ("the three dots literal used in slicing", "bltin-ellipsis-object"),
        ("increment a variable in place with +=", "augassign"),
        ("test whether a value is contained in a list or dictionary", "in"),
        ("negate a number or invert its bits", "unary"),
        ("step through my program line by line and set breakpoints", "debugger"),
        ("a dictionary: keys, values, get and update", "typesmapping"),
        ("make my object behave like a container with __len__ and __getitem__",
         "sequence-types"),
        ("overload the + operator for my class", "numeric-types"),
        ("the return value of a function when there is no return statement", "return"),
        ("a statement that does nothing as a placeholder", "pass"),
        ("default values for function parameters and keyword arguments", "function"),
    ])
