"""TinyLang: sampling, exact probabilities, and the exact entropy against Monte Carlo."""

from __future__ import annotations

import math
import statistics

import pytest

from genai_course.data import tinylang
from genai_course.data.tinylang import AGENTS, DEFAULT_PROBS, NUMBER, OBJECTS, TinyLang


@pytest.fixture(scope="module")
def lang() -> TinyLang:
    return TinyLang(seed=0)


@pytest.fixture(scope="module")
def sample(lang: TinyLang) -> list[str]:
    return TinyLang(seed=123).sample_sentences(1500)


def test_sentences_look_right(sample: list[str]) -> None:
    for s in sample:
        words = s[:-1].split(" ")
        assert s.endswith(".") and words[0] == "the" and 3 <= len(words) <= 20
    assert len(set(sample)) > 1000  # varied
    assert max(len(s) for s in sample) > 60 and min(len(s) for s in sample) < 20


def test_agreement_pronouns_and_verbs(sample: list[str]) -> None:
    """Every pronoun matches its subject, and every verb agrees with it in number."""
    singular_verbs = set(tinylang.TRANSITIVE["sg"]) | set(tinylang.INTRANSITIVE["sg"])
    plural_verbs = set(tinylang.TRANSITIVE["pl"]) | set(tinylang.INTRANSITIVE["pl"])
    seen_and = 0
    for s in sample:
        words = s[:-1].split(" ")
        subject = next(w for w in words if any(w in a for a in AGENTS.values()))
        pronoun = next(p for p, agents in AGENTS.items() if subject in agents)
        allowed = singular_verbs if NUMBER[pronoun] == "sg" else plural_verbs
        for w in words:
            assert w not in (singular_verbs | plural_verbs) - allowed, s
        if "and" in words:
            seen_and += 1
            assert words[words.index("and") + 1] == pronoun, s
            if words[-1] in OBJECTS:  # "it"/"them" refers to the main clause's object,
                main = words[: words.index("and")]  # the last object named before "and"
                objects = [w for w in main if any(w in o for o in OBJECTS.values())]
                assert objects[-1] in OBJECTS[words[-1]], s
    assert seen_and > 300


def test_log_prob_of_hand_checked_sentences(lang: TinyLang) -> None:
    p = DEFAULT_PROBS
    # "the boy runs.": he, no adjective, boy (1/3), no relative clause, intransitive,
    # runs (1/4), no place, no "and"
    expected = (p["he"] * (1 - p["adjective"]) / 3 * (1 - p["relative"])
                * (1 - p["transitive"]) / 4 * (1 - p["place"]) * (1 - p["and"]))
    assert lang.log_prob("the boy runs.") == pytest.approx(math.log(expected), abs=1e-12)
    assert lang.log_prob("the boy runs.\n") == lang.log_prob("the boy runs.")
    # "the girls see the red ball and they drop it."
    expected = (p["they"] * (1 - p["adjective"]) / 6 * (1 - p["relative"])
                * p["transitive"] * (1 - p["plural_object"]) / 6  # see
                * p["adjective"] / 6 / 6  # red ball
                * (1 - p["place"]) * p["and"] * p["and_transitive"] / 6)
    assert lang.log_prob("the girls see the red ball and they drop it.") == pytest.approx(
        math.log(expected), abs=1e-12)


@pytest.mark.parametrize("bad", [
    "the boy run.",  # agreement
    "the boy runs and she sleeps.",  # pronoun
    "the boy sees the ball and he drops them.",  # object pronoun
    "the boy runs",  # no full stop
    "the boy  runs.", " the boy runs.", "the dragon runs.", "",
])
def test_sentences_outside_the_language_have_probability_zero(lang: TinyLang, bad: str) -> None:
    assert lang.log_prob(bad) == -math.inf
    assert lang.n_parses(bad) == 0


def test_grammar_is_unambiguous_and_probabilities_normalised(lang: TinyLang,
                                                              sample: list[str]) -> None:
    assert all(lang.n_parses(s) == 1 for s in sample[:300])
    for symbol, rules in lang.grammar.items():
        assert sum(p for p, _ in rules) == pytest.approx(1.0, abs=1e-12), symbol
        assert len({rhs for _, rhs in rules}) == len(rules), symbol


def test_exact_entropy_matches_monte_carlo(lang: TinyLang, sample: list[str]) -> None:
    nll = [-lang.log_prob(s) for s in sample]
    mean = statistics.fmean(nll)
    se = statistics.stdev(nll) / math.sqrt(len(nll))
    h = lang.entropy_per_sentence()
    assert abs(mean - h) < 4 * se, (mean, h, se)
    chars = [len(s) + 1 for s in sample]
    assert abs(statistics.fmean(chars) - lang.expected_chars()) < 4 * statistics.stdev(
        chars) / math.sqrt(len(chars))
    assert lang.entropy_per_char() == pytest.approx(h / lang.expected_chars())


def test_exact_entropy_by_enumeration_of_a_finite_part(lang: TinyLang) -> None:
    """The subject phrases form a finite sub-language: enumerate every one of them with its
    probability and compare its entropy with the recursion's."""

    def expand(symbols: tuple[str, ...], prob: float, out: dict[str, float]) -> None:
        for i, sym in enumerate(symbols):
            if sym in lang.grammar:
                for p, rhs in lang.grammar[sym]:
                    expand(symbols[:i] + rhs + symbols[i + 1:], prob * p, out)
                return
        phrase = " ".join(symbols)
        out[phrase] = out.get(phrase, 0.0) + prob

    for pronoun in AGENTS:
        phrases: dict[str, float] = {}
        expand((f"SUBJ/{pronoun}",), 1.0, phrases)
        assert sum(phrases.values()) == pytest.approx(1.0, abs=1e-9)
        entropy = -sum(p * math.log(p) for p in phrases.values())
        assert lang._expectation("entropy", f"SUBJ/{pronoun}") == pytest.approx(entropy,
                                                                                 abs=1e-9)


def test_texts_splits_and_seeds(lang: TinyLang) -> None:
    train = lang.text("train", 50)
    assert train.count("\n") == 50 and train.endswith(".\n")
    assert lang.text("train", 50) == train
    assert lang.text("train", 80).startswith(train)
    assert lang.text("validation", 50) != train
    assert TinyLang(seed=1).text("train", 50) != train
    a, b = TinyLang(seed=7), TinyLang(seed=7)
    assert a.sample_sentence() == b.sample_sentence()
    first = a.sample_sentences(5)
    assert first == b.sample_sentences(5)
    assert a.sample_sentences(5) != first  # the generator moves on
    assert lang.text_log_prob(train) == pytest.approx(
        sum(lang.log_prob(s) for s in train.splitlines()))
    assert set(train) <= set(lang.alphabet())
    assert max(len(s) + 1 for s in lang.text("test", 2000).splitlines()) <= lang.max_chars()


def test_bad_arguments() -> None:
    lang = TinyLang()
    with pytest.raises(ValueError, match="split"):
        lang.text("dev", 3)
    with pytest.raises(ValueError, match="n_sentences"):
        lang.sample_sentences(-1)
    with pytest.raises(TypeError, match="seed"):
        TinyLang(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sentence"):
        lang.log_prob(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="newline"):
        lang.text_log_prob("the boy runs.")
    with pytest.raises(ValueError, match="missing"):
        TinyLang(probs={"he": 0.5})
    bad = dict(DEFAULT_PROBS, he=0.5)
    with pytest.raises(ValueError, match="must be 1"):
        TinyLang(probs=bad)
    with pytest.raises(ValueError, match="between 0 and 1"):
        TinyLang(probs=dict(DEFAULT_PROBS, place=0.0))


def test_other_probabilities_change_the_entropy() -> None:
    base = TinyLang().entropy_per_sentence()
    assert TinyLang(probs=dict(DEFAULT_PROBS, adjective=0.5)).entropy_per_sentence() > base
