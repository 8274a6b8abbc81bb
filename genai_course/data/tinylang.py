"""TinyLang: a synthetic English-like language whose exact entropy is known.

Sentences come from a small probabilistic context-free grammar (PCFG) about a toy world of
agents (kings, queens, wizards...), objects, colours, actions and places::

    the red queen who finds the keys sleeps near the river and she sees the ball.
    the kings take the green boxes and they drop them.

It has long-range agreement: a verb agrees in number with its subject across a relative
clause (*the king who sees the balls runs*), a pronoun matches its subject's gender and
number (*he*, *she*, *they*) and an object pronoun the number of the object (*it*, *them*).
The grammar is **unambiguous** (every sentence has exactly one derivation), so the
probability of a sentence is the product of the rule probabilities of its derivation and
the entropy of a sentence is the expected sum of the entropies of the rule choices, which
a short recursion over the grammar computes exactly (no sampling). A text is a stream of
independent sentences, each followed by a newline, so the entropy rate of the character
stream is ``H(sentence) / E[characters per sentence, newline included]`` — the floor no
language model of this text can beat on average (Shannon 1948; Cover & Thomas, ch. 4).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Mapping, Sequence

from genai_course.core.checks import check_int

#: Agents by the pronoun that refers to them; ``he``/``she`` are singular, ``they`` plural.
AGENTS: dict[str, tuple[str, ...]] = {
    "he": ("king", "boy", "wizard"),
    "she": ("queen", "girl", "witch"),
    "they": ("kings", "boys", "wizards", "queens", "girls", "witches"),
}
#: Objects by the pronoun that refers to them.
OBJECTS: dict[str, tuple[str, ...]] = {
    "it": ("ball", "box", "cup", "key", "apple", "hat"),
    "them": ("balls", "boxes", "cups", "keys", "apples", "hats"),
}
COLOURS: tuple[str, ...] = ("red", "blue", "green", "yellow", "black", "white")
#: Verbs by grammatical number ("sg" for he/she, "pl" for they).
TRANSITIVE: dict[str, tuple[str, ...]] = {
    "sg": ("sees", "takes", "likes", "finds", "holds", "drops"),
    "pl": ("see", "take", "like", "find", "hold", "drop"),
}
INTRANSITIVE: dict[str, tuple[str, ...]] = {
    "sg": ("runs", "sleeps", "sings", "waits"),
    "pl": ("run", "sleep", "sing", "wait"),
}
PLACES: tuple[str, ...] = ("in the garden", "in the house", "near the river", "at the market",
                           "on the hill")
NUMBER = {"he": "sg", "she": "sg", "they": "pl"}

#: The probabilities of the grammar's choices (see :func:`build_grammar`).
DEFAULT_PROBS: dict[str, float] = {
    "he": 0.35, "she": 0.35, "they": 0.30,  # whom the sentence is about
    "adjective": 0.4,  # a colour before a noun
    "relative": 0.25,  # a relative clause after the subject ("who ...")
    "relative_transitive": 0.6,  # "who sees the ball" rather than "who sleeps"
    "transitive": 0.6,  # the main verb takes an object
    "plural_object": 0.4,
    "place": 0.3,  # "in the garden" after the verb phrase
    "and": 0.35,  # a second clause with a pronoun subject
    "and_transitive": 0.6,  # "and he drops it" rather than "and he sleeps"
}

Rule = tuple[float, tuple[str, ...]]
Grammar = dict[str, tuple[Rule, ...]]
SENTENCE = "S"


def _uniform(words: Sequence[str]) -> tuple[Rule, ...]:
    return tuple((1.0 / len(words), (w,)) for w in words)


def build_grammar(probs: Mapping[str, float] = DEFAULT_PROBS) -> Grammar:
    """The PCFG as ``{nonterminal: ((probability, right-hand side), ...)}``.

    Nonterminals are capitalised (``"S"`` is the start), terminals are words; features are
    folded into nonterminal names (``"NP/he"``) so agreement is context-free::

        S            -> SUBJ/p PRED/p                      p in {he, she, they}
        SUBJ/p       -> the ADJ? AGENT/p REL/p?
        REL/p        -> who IV/n | who TV/n OBJ             n = number of p
        PRED/p       -> IV/n PLACE? AND/p/- | TV/n OBJ/o PLACE? AND/p/o   o in {it, them}
        AND/p/o      -> ε | and p IV/n | and p TV/n (o if an object was named, else OBJ)
        OBJ/o        -> the ADJ? NOUN/o
    """
    p = dict(probs)
    missing = set(DEFAULT_PROBS) - set(p)
    if missing:
        raise ValueError(f"probs is missing {sorted(missing)}")
    if abs(p["he"] + p["she"] + p["they"] - 1.0) > 1e-9:
        raise ValueError("probs['he'] + probs['she'] + probs['they'] must be 1")
    for key, value in p.items():
        if not 0.0 < value < 1.0:
            raise ValueError(f"probs[{key!r}] must be strictly between 0 and 1, got {value}")

    def optional(q: float, rhs: tuple[str, ...]) -> tuple[Rule, ...]:
        return ((1.0 - q, ()), (q, rhs))

    g: Grammar = {
        SENTENCE: tuple((p[pr], (f"SUBJ/{pr}", f"PRED/{pr}")) for pr in AGENTS),
        "ADJ?": ((1.0 - p["adjective"], ()),) + tuple(
            (p["adjective"] / len(COLOURS), (c,)) for c in COLOURS),
        "PLACE?": ((1.0 - p["place"], ()),) + tuple(
            (p["place"] / len(PLACES), tuple(place.split())) for place in PLACES),
    }
    po = p["plural_object"]
    g["OBJ"] = ((1.0 - po, ("OBJ/it",)), (po, ("OBJ/them",)))
    for obj, nouns in OBJECTS.items():
        g[f"OBJ/{obj}"] = ((1.0, ("the", "ADJ?", f"NOUN/{obj}")),)
        g[f"NOUN/{obj}"] = _uniform(nouns)
    for n in ("sg", "pl"):
        g[f"TV/{n}"] = _uniform(TRANSITIVE[n])
        g[f"IV/{n}"] = _uniform(INTRANSITIVE[n])
    for pr, agents in AGENTS.items():
        n = NUMBER[pr]
        g[f"AGENT/{pr}"] = _uniform(agents)
        g[f"SUBJ/{pr}"] = ((1.0, ("the", "ADJ?", f"AGENT/{pr}", f"REL/{pr}?")),)
        rt = p["relative_transitive"]
        g[f"REL/{pr}?"] = optional(p["relative"], (f"REL/{pr}",))
        g[f"REL/{pr}"] = ((1 - rt, ("who", f"IV/{n}")), (rt, ("who", f"TV/{n}", "OBJ")))
        t = p["transitive"]
        g[f"PRED/{pr}"] = ((1 - t, (f"IV/{n}", "PLACE?", f"AND/{pr}/-")),) + tuple(
            (t * (po if obj == "them" else 1 - po),
             (f"TV/{n}", f"OBJ/{obj}", "PLACE?", f"AND/{pr}/{obj}")) for obj in OBJECTS)
        at = p["and_transitive"]
        for obj in ("-", *OBJECTS):
            second_object = "OBJ" if obj == "-" else obj
            g[f"AND/{pr}/{obj}"] = (
                (1 - p["and"], ()),
                (p["and"] * (1 - at), ("and", pr, f"IV/{n}")),
                (p["and"] * at, ("and", pr, f"TV/{n}", second_object)),
            )
    return g


def _is_terminal(grammar: Grammar, symbol: str) -> bool:
    return symbol not in grammar


class TinyLang:
    """A seeded sampler of TinyLang sentences and texts, with exact probabilities.

    ``sample_sentence()`` draws from the instance's own generator (seeded by ``seed``);
    ``text(split, n)`` returns a fixed corpus per split (``"train"``, ``"validation"``,
    ``"test"``), independent of every other draw. Sentences end with ``"."``; in a text
    each is followed by ``"\\n"``.
    """

    SPLITS = ("train", "validation", "test")

    def __init__(self, seed: int = 0, probs: Mapping[str, float] = DEFAULT_PROBS) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        self.seed = seed
        self.grammar = build_grammar(probs)
        self.rng = random.Random(seed)

    # --- sampling -----------------------------------------------------------------------

    def _expand(self, symbol: str, rng: random.Random, out: list[str]) -> None:
        if _is_terminal(self.grammar, symbol):
            out.append(symbol)
            return
        rules = self.grammar[symbol]
        u, acc = rng.random(), 0.0
        rhs = rules[-1][1]  # guards against rounding in the cumulative sum
        for prob, candidate in rules:
            acc += prob
            if u < acc:
                rhs = candidate
                break
        for child in rhs:
            self._expand(child, rng, out)

    def _sentence(self, rng: random.Random) -> str:
        words: list[str] = []
        self._expand(SENTENCE, rng, words)
        return " ".join(words) + "."

    def sample_sentence(self) -> str:
        """One sentence, e.g. ``"the girl sees the red ball."``."""
        return self._sentence(self.rng)

    def sample_sentences(self, n_sentences: int) -> list[str]:
        """``n_sentences`` sentences from the instance's generator."""
        check_int(n_sentences, "n_sentences")
        return [self._sentence(self.rng) for _ in range(n_sentences)]

    def text(self, split: str, n_sentences: int) -> str:
        """A fixed corpus: the first ``n_sentences`` sentences of ``split`` (one newline
        after each). Each split has its own generator, seeded by ``(seed, split)``, so the
        validation text does not depend on how much training text was drawn."""
        if split not in self.SPLITS:
            raise ValueError(f"split must be one of {self.SPLITS}, got {split!r}")
        check_int(n_sentences, "n_sentences")
        rng = random.Random(f"tinylang-{self.seed}-{split}")
        return "".join(self._sentence(rng) + "\n" for _ in range(n_sentences))

    # --- exact probabilities ------------------------------------------------------------

    @functools.cached_property
    def _spans(self) -> dict[str, tuple[int, int, frozenset[str]]]:
        """Per nonterminal: the fewest and most words it can produce, and the words it can
        start with (used to skip impossible spans while parsing)."""
        grammar = self.grammar

        @functools.cache
        def info(sym: str) -> tuple[int, int, frozenset[str]]:
            if _is_terminal(grammar, sym):
                return 1, 1, frozenset([sym])
            lo, hi, first = math.inf, 0, set()
            for _, rhs in grammar[sym]:
                parts = [info(child) for child in rhs]
                lo = min(lo, sum(p[0] for p in parts))
                hi = max(hi, sum(p[1] for p in parts))
                for part in parts:  # FIRST(rhs): up to the first child that cannot be empty
                    first |= part[2]
                    if part[0] > 0:
                        break
            return int(lo), hi, frozenset(first)

        return {sym: info(sym) for sym in grammar}

    def _inside(self, words: Sequence[str], rule_weight: str) -> float:
        """Sum over derivations of ``words`` of the product of rule weights: the
        probability (``rule_weight="prob"``) or the number of parses (``"count"``)."""
        grammar, spans = self.grammar, self._spans

        @functools.cache
        def symbol(sym: str, i: int, j: int) -> float:
            if _is_terminal(grammar, sym):
                return 1.0 if j == i + 1 and words[i] == sym else 0.0
            lo, hi, first = spans[sym]
            if not lo <= j - i <= hi or (j > i and words[i] not in first):
                return 0.0
            total = 0.0
            for prob, rhs in grammar[sym]:
                w = prob if rule_weight == "prob" else 1.0
                total += w * sequence(rhs, i, j)
            return total

        @functools.cache
        def sequence(rhs: tuple[str, ...], i: int, j: int) -> float:
            if not rhs:
                return 1.0 if i == j else 0.0
            head, rest = rhs[0], rhs[1:]
            if _is_terminal(grammar, head):  # a word spans exactly one position
                return sequence(rest, i + 1, j) if i < j and words[i] == head else 0.0
            lo, hi, _ = spans[head]
            rest_lo, rest_hi = rest_span(rest)
            ks = range(max(i + lo, j - rest_hi), min(i + hi, j - rest_lo) + 1)
            return sum(symbol(head, i, k) * sequence(rest, k, j) for k in ks)

        @functools.cache
        def rest_span(rhs: tuple[str, ...]) -> tuple[int, int]:
            parts = [spans.get(sym, (1, 1)) for sym in rhs]
            return sum(p[0] for p in parts), sum(p[1] for p in parts)

        return symbol(SENTENCE, 0, len(words))

    @staticmethod
    def _words(sentence: str) -> list[str] | None:
        if not isinstance(sentence, str):
            raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
        body = sentence[:-1] if sentence.endswith("\n") else sentence
        if not body.endswith(".") or "  " in body or body != body.strip():
            return None
        return body[:-1].split(" ")

    def log_prob(self, sentence: str) -> float:
        """The exact natural-log probability of one sentence (``-inf`` if the grammar
        cannot produce it), by the inside algorithm (Baker 1979) over its words."""
        words = self._words(sentence)
        prob = 0.0 if words is None else self._inside(words, "prob")
        return math.log(prob) if prob > 0 else -math.inf

    def n_parses(self, sentence: str) -> int:
        """How many derivations produce ``sentence`` (1 for every sentence of the
        language: the grammar is unambiguous; 0 outside it)."""
        words = self._words(sentence)
        return 0 if words is None else round(self._inside(words, "count"))

    def text_log_prob(self, text: str) -> float:
        """The exact log-probability of a text of newline-terminated sentences."""
        if not text.endswith("\n"):
            raise ValueError("a text is a sequence of sentences, each ending with a newline")
        return sum(self.log_prob(s) for s in text[:-1].split("\n"))

    # --- exact expectations over the grammar --------------------------------------------

    def _expectation(self, local: str, start: str = SENTENCE) -> float:
        """E[sum over the rule choices of a derivation from ``start`` of their ``local``
        value], where ``local`` is ``"entropy"`` (of the choice) or ``"chars"`` (of the
        emitted words, one space or full stop after each). Exact, by recursion over the
        acyclic grammar."""
        grammar = self.grammar

        @functools.cache
        def value(sym: str) -> float:
            if _is_terminal(grammar, sym):
                return len(sym) + 1.0 if local == "chars" else 0.0
            rules = grammar[sym]
            total = sum(p * sum(value(child) for child in rhs) for p, rhs in rules)
            if local == "entropy":
                total -= sum(p * math.log(p) for p, _ in rules)
            return total

        return value(start)

    def entropy_per_sentence(self) -> float:
        """Exact entropy of a sentence, ``-sum_s p(s) log p(s)``, in nats."""
        return self._expectation("entropy")

    def expected_chars(self) -> float:
        """Expected characters per sentence in a text, the newline included."""
        return self._expectation("chars") + 1.0

    def entropy_per_char(self) -> float:
        """The entropy rate of a text in nats per character:
        ``entropy_per_sentence() / expected_chars()`` (sentences are independent and the
        newline marks where each ends). No model's cross-entropy on TinyLang text can be
        lower on average."""
        return self.entropy_per_sentence() / self.expected_chars()

    def max_chars(self) -> int:
        """The length of the longest sentence the grammar can produce, newline included."""
        grammar = self.grammar

        @functools.cache
        def longest(sym: str) -> int:
            if _is_terminal(grammar, sym):
                return len(sym) + 1
            return max(sum(longest(child) for child in rhs) for _, rhs in grammar[sym])

        return longest(SENTENCE) + 1

    def alphabet(self) -> str:
        """Every character a text can contain, sorted."""
        chars = {".", " ", "\n"}
        for rules in self.grammar.values():
            for _, rhs in rules:
                for sym in rhs:
                    if _is_terminal(self.grammar, sym):
                        chars.update(sym)
        return "".join(sorted(chars))
