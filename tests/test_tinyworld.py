"""TinyWorld: a deterministic world, a fixed split of people, documents that state exactly
the facts, and the job/pronoun skew it promises."""

from __future__ import annotations

import re

import pytest

from genai_course.data import tinyworld
from genai_course.data.tinyworld import ATTRIBUTES, TRAINED_ATTRIBUTES, VALUES, TinyWorld


@pytest.fixture(scope="module")
def world() -> TinyWorld:
    return tinyworld.default_world()


def test_world_is_a_pure_function_of_its_arguments(world: TinyWorld) -> None:
    again = TinyWorld(tinyworld.WORLD_SEED)
    assert again.people == world.people
    assert TinyWorld(1).people != world.people


def test_people_are_unique_and_split_in_half(world: TinyWorld) -> None:
    names = [p.name for p in world.people]
    assert len(names) == len(set(names)) == 200
    assert all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n) for n in names)
    trained, held = world.people_in("trained"), world.people_in("held_back")
    assert len(trained) == len(held) == 100
    assert {p.name for p in trained}.isdisjoint(p.name for p in held)
    for p in world.people:
        for attribute in ATTRIBUTES:
            assert p.value(attribute) in VALUES[attribute]
    assert world.person(names[3]) is world.people[3]
    with pytest.raises(KeyError, match="no person named 'Nobody Here'"):
        world.person("Nobody Here")


def test_each_document_states_exactly_its_person_s_facts(world: TinyWorld) -> None:
    docs = world.documents("trained", variants=4)
    assert len(docs) == 400 and len({d.text for d in docs}) > 350  # phrasings differ
    for doc in docs:
        person = world.person(doc.person)
        assert doc.text.startswith(person.name)
        for attribute in TRAINED_ATTRIBUTES:
            stated = [v for v in VALUES[attribute]
                      if re.search(rf"\b{re.escape(v)}\b", doc.text)]
            assert stated == [person.value(attribute)], (doc.text, attribute)
        assert person.colour not in doc.text.split()  # the reserved relation is absent
    with_colour = world.documents("trained", attributes=ATTRIBUTES)[0]
    assert world.person(with_colour.person).colour in with_colour.text


def test_facts_and_documents_follow_the_split(world: TinyWorld) -> None:
    held = {p.name for p in world.people_in("held_back")}
    assert {name for name, _, _ in world.facts("held_back")} == held
    assert len(world.facts("trained")) == 100 * len(TRAINED_ATTRIBUTES)
    assert {d.person for d in world.documents("trained")}.isdisjoint(held)
    assert len(world.documents()) == 200


def test_job_pronoun_skew_matches_the_parameter() -> None:
    """With skew s, a person's job is from their pronoun's half of the jobs with probability
    s; on 4000 people the measured share is within 4 standard errors of s."""
    for skew in (0.5, 0.9):
        big = TinyWorld(seed=3, n_people=4000, job_skew=skew)
        half = len(tinyworld.JOBS) // 2
        own = sum((p.job in tinyworld.JOBS[:half]) == (p.pronoun == "he") for p in big.people)
        se = (skew * (1 - skew) / 4000) ** 0.5 or 1e-9
        assert abs(own / 4000 - skew) < 4 * max(se, 0.008)
    counts = TinyWorld().job_pronoun_counts()
    assert sum(c["he"] + c["she"] for c in counts.values()) == 200


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="held_back"):
        TinyWorld(held_back=1.0)
    with pytest.raises(ValueError, match="job_skew"):
        TinyWorld(job_skew=1.5)
    with pytest.raises(TypeError, match="n_people"):
        TinyWorld(n_people=2.5)
    with pytest.raises(ValueError, match="split"):
        TinyWorld().people_in("train")
