"""The task world: every checker on hand-made right and wrong answers, the parser, the
scratchpads against Python's integers, the fixed test split, the JSON schema (checked with
the jsonschema library) and the TinyLang sentences (checked with TinyLang's own parser)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from genai_course.data import tasks
from genai_course.data.tasks import Item, check, generate, parse_answer
from genai_course.data.tinylang import TinyLang
from genai_course.data.tinyworld import VALUES, default_world


@pytest.mark.parametrize("text, kind, expected", [
    ("68", "number", "68"),
    ("The answer is 68.", "number", "68"),
    ("23 + 45 = 68", "number", "68"),
    ("3+5+0=8, carry 0: 8\nAnswer: 0068", "number", "68"),
    ("Answer: -12", "number", "-12"),
    ("no digits", "number", None),
    ("Brindle", "word", "brindle"),
    ("[BRINDLE]", "word", "brindle"),
    ("The answer is Brindle.", "word", "brindle"),
    ("", "word", None),
    ("3, 5 and 12", "list", "3 5 and 12"),
    ("ball cup hat", "list", "ball cup hat"),
    ('{"b": 1, "a": null}', "json", '{"a": null, "b": 1}'),
    ('Sure: {"a": 1} done', "json", '{"a": 1}'),
    ('{"a": 1', "json", None),
    ("[1, 2]", "json", None),
    ("B", "letter", "B"),
    ("The answer is C.", "letter", "C"),
    ("E", "letter", None),
])
def test_parse_answer(text: str, kind: str, expected: str | None) -> None:
    assert parse_answer(text, kind) == expected


def test_parse_answer_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_answer("1", "float")
    with pytest.raises(TypeError, match="text must be a str"):
        parse_answer(1, "number")
    with pytest.raises(TypeError, match="item must be an Item"):
        check("68", "68")


def first(family: str, **options) -> Item:
    return generate(family, 1, seed=5, **options)[0]


def test_every_family_accepts_its_reference_answer_and_rejects_wrong_ones() -> None:
    wrong = {"number": "12345678", "word": "zzz", "list": "zzz", "json": "{}",
             "letter": "no letter here"}
    for family in tasks.FAMILIES:
        for item in generate(family, 30, seed=1):
            assert check(item, item.answer), (family, item.prompt, item.answer)
            assert not check(item, wrong[item.kind]), (family, item.prompt)
            assert not check(item, ""), family
            assert item.messages()[-1] == {"role": "user", "content": item.prompt}


def test_arithmetic_right_and_wrong_answers() -> None:
    item = first("add", digits=2, scratchpad=False)
    a, b = item.meta["a"], item.meta["b"]
    assert item.prompt.count(str(a)) >= 1 and item.target == str(a + b)
    assert check(item, str(a + b)) and check(item, f"{a} + {b} = {a + b}")
    assert check(item, f"The answer is {a + b}.")
    assert not check(item, str(a + b + 1)) and not check(item, str(a + b) + "0")
    assert not check(item, f"{a + b} is close; Answer: {a + b - 10}")
    sub = first("sub", digits=3, scratchpad=True)
    assert sub.meta["a"] >= sub.meta["b"]
    assert sub.prompt.endswith(tasks.STEP_TRIGGERS)
    assert check(sub, f"Answer: {sub.meta['a'] - sub.meta['b']}")


def test_scratchpads_are_correct_column_arithmetic() -> None:
    """Every line's sum, carry and partial result agree with Python's integers, for all
    pairs of small numbers and random 4-digit ones."""
    pairs = [(a, b) for a in range(0, 120, 7) for b in range(0, 120, 11)]
    pairs += [(i.meta["a"], i.meta["b"]) for i in generate("add", 200, seed=2, digits=4)]
    for a, b in pairs:
        lines = tasks.addition_scratchpad(a, b).split("\n")
        assert lines[-1] == f"Answer: {a + b}"
        for column, line in enumerate(lines[:-1]):
            partial = line.rsplit(": ", 1)[1]
            assert int(partial) == (a + b) % 10 ** len(partial)
            if not line.startswith("carry"):
                x, rest = line.split("+", 1)
                y, rest = rest.split("+", 1)
                carry_in, total = rest.split(",")[0].split("=")
                assert int(x) == a // 10 ** column % 10 and int(y) == b // 10 ** column % 10
                assert int(x) + int(y) + int(carry_in) == int(total)
        big, small = max(a, b), min(a, b)
        lines = tasks.subtraction_scratchpad(big, small).split("\n")
        assert lines[-1] == f"Answer: {big - small}"
        for line in lines[:-1]:
            partial = line.rsplit(": ", 1)[1]
            assert int(partial) == (big - small) % 10 ** len(partial)
    with pytest.raises(ValueError, match="a >= b"):
        tasks.subtraction_scratchpad(3, 5)


def test_list_tasks() -> None:
    item = Item("sort", "Sort these numbers from smallest to largest: 5 12 3", "3 5 12",
                "3 5 12", "list")
    assert check(item, "3 5 12") and check(item, "3, 5, 12")
    assert not check(item, "5 3 12") and not check(item, "3 5") and not check(item, "12 5 3")
    for family in ("sort", "reverse", "max", "count"):
        for it in generate(family, 20, seed=3):
            values = it.meta["values"]
            expected = {"sort": " ".join(sorted(values) if not values[0].isdigit()
                                         else sorted(values, key=int)),
                        "reverse": " ".join(values[::-1]),
                        "max": str(max(map(int, values))) if family == "max" else "",
                        "count": str(len(values))}[family]
            assert it.target == expected


def test_fact_questions_know_the_world() -> None:
    world = default_world()
    for item in generate("fact", 50, seed=4, people="held_back"):
        person = world.person(item.meta["person"])
        assert person.split == "held_back" and person.name in item.prompt
        value = person.value(item.meta["attribute"])
        assert check(item, value) and check(item, value.upper())
        others = [v for v in VALUES[item.meta["attribute"]] if v != value]
        assert not any(check(item, v) for v in others)
    assert {i.meta["people"] for i in generate("fact", 20, seed=4)} == {"trained"}


def test_context_items_hold_the_answer_in_one_document() -> None:
    world_names = {p.name for p in default_world().people}
    for source in ("held_back", "fresh"):
        for item in generate("context", 40, seed=6, source=source, n_docs=3):
            docs = item.meta["documents"]
            assert len(docs) == 3 and item.prompt == tasks.context_prompt(
                item.meta["question"], docs)
            assert item.meta["person"] in docs[item.meta["gold"]]
            assert item.answer in docs[item.meta["gold"]]
            assert (item.meta["person"] in world_names) == (source == "held_back")
    gold_first = generate("context", 5, seed=6, n_docs=2, gold=0)
    assert all(i.meta["documents"][0].startswith(i.meta["person"]) for i in gold_first)
    with pytest.raises(ValueError, match="gold must be < n_docs"):
        generate("context", 1, n_docs=2, gold=2)


def test_multiple_choice_has_one_right_letter() -> None:
    world = default_world()
    for item in generate("mc", 30, seed=7):
        person = world.person(item.meta["person"])
        right = person.value(item.meta["attribute"])
        assert item.meta["options"].count(right) == 1
        assert item.meta["options"]["ABCD".index(item.target)] == right
        assert check(item, item.target) and check(item, f"The answer is {item.target}.")
        assert not check(item, "ABCD".replace(item.target, "")[0])


def test_json_items_are_tinylang_and_valid_against_the_schema() -> None:
    language = TinyLang()
    for item in generate("json", 100, seed=8):
        assert language.log_prob(item.meta["sentence"]) > float("-inf"), item.meta["sentence"]
        value = json.loads(item.answer)
        jsonschema.validate(value, tasks.JSON_SCHEMA)
        assert list(value) == list(tasks.JSON_SCHEMA["properties"])
        for field in value.values():
            if field is not None:
                assert field in item.meta["sentence"]
    item = first("json")
    fields = dict(item.meta["fields"])
    assert check(item, json.dumps(fields, indent=2))  # formatting does not matter
    assert check(item, "Here: " + json.dumps(dict(reversed(list(fields.items())))))
    fields["agent"] = "dragon"
    assert not check(item, json.dumps(fields))
    assert not check(item, item.answer[:-1])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(fields, tasks.JSON_SCHEMA)


def test_classify_only_the_examples_define_arbitrary_labels() -> None:
    for item in generate("classify", 60, seed=9, mapping="arbitrary", shots=4):
        labels = item.meta["labels"]
        assert set(item.choices) == set(labels.values())
        lines = item.prompt.split("\n")
        assert len(lines) == 6 and lines[-1] == f"{item.meta['word']}:"
        shown = [line.split(": ")[1] for line in lines[1:-1]]
        assert set(shown) == set(labels.values())  # both labels are shown
        for category, label in labels.items():
            assert category not in item.prompt.split("\n")[0]  # no hint in the instruction
            other = next(v for v in labels.values() if v != label)
            if category == item.meta["category"]:
                assert check(item, label) and not check(item, other)
    zero = generate("classify", 30, seed=9, mapping="arbitrary", shots=0)
    assert all(i.prompt.count("\n") == 1 for i in zero)
    flipped = first("classify", mapping="flipped", shots=2)
    assert flipped.target != flipped.meta["category"]


def test_cipher_examples_cover_the_query() -> None:
    for item in generate("cipher", 40, seed=10, shots=2):
        code, query = item.meta["code"], item.meta["query"]
        examples = item.prompt.split("\n")[1:-1]
        assert len(examples) == 2
        for line in examples:
            plain, coded = line.split(" -> ")
            assert "".join(code[c] for c in plain) == coded
        assert set(query) <= {c for line in examples for c in line.split(" -> ")[0]}
        assert item.target == "".join(code[c] for c in query)
        assert not check(item, query) or query == item.target


@pytest.mark.parametrize("rule, right, wrong", [
    ("upper", "BRINDLE", ["Brindle", "brindle"]),
    ("one_word", "Brindle", ["It is Brindle", "Brindle."]),
    ("brackets", "[Brindle]", ["Brindle", "[Brindle", "[[Brindle]]"]),
    ("sentence", "The answer is Brindle.", ["Brindle", "The answer is Brindle"]),
])
def test_format_rules_on_words(rule: str, right: str, wrong: list[str]) -> None:
    item = Item("format", "Where does X live?", right, "brindle", "word",
                meta={"rule": rule})
    assert tasks.obeys_format(item, right) and check(item, right)
    for text in wrong:
        assert not check(item, text), text
    other = right.replace("Brindle", "Korvel").replace("BRINDLE", "KORVEL")
    assert tasks.obeys_format(item, other) and not check(item, other)


def test_format_items_and_system_prompts() -> None:
    number = Item("format", "What is 2 + 3?", "5", "5", "number", meta={"rule": "number"})
    assert check(number, "5") and not check(number, "2 + 3 = 5") and not check(number, "6")
    items = generate("format", 60, seed=11)
    assert {i.meta["where"] for i in items} == {"system", "user"}
    for item in items:
        assert check(item, item.answer)
        rule = tasks.FORMAT_RULES[item.meta["rule"]]
        if item.meta["where"] == "system":
            assert item.messages()[0] == {"role": "system", "content": rule}
        else:
            assert item.system is None and item.prompt.endswith(rule)
    with pytest.raises(ValueError, match="not a format item"):
        tasks.obeys_format(first("say"), "X")


def test_injections_and_defences() -> None:
    for defence in tasks.DEFENCES:
        item = first("subject", attack=True, defence=defence)
        word = item.meta["attack_word"]
        assert word in item.prompt or word in tasks.datamark(item.prompt)
        assert check(item, item.answer) and check(item, f"The text is about the {item.answer}.")
        assert tasks.attack_succeeded(item, word) and tasks.attack_succeeded(item, word.lower())
        assert not tasks.attack_succeeded(item, item.answer)
        assert not check(item, word)
        assert (item.system == tasks.INJECTION_WARNING) == (defence == "system")
    marked = first("subject", attack=True, defence="datamark")
    assert "^" in marked.prompt and " " not in marked.prompt.split("Text: ")[1]
    assert tasks.datamark("a b  c") == "a^b^c"
    clean = first("subject", attack=False)
    with pytest.raises(ValueError, match="no injected instruction"):
        tasks.attack_succeeded(clean, "x")


def test_generation_is_seeded_and_the_test_split_is_disjoint() -> None:
    a = generate("add", 50, seed=12, digits=2)
    assert [i.prompt for i in a] == [i.prompt for i in generate("add", 50, seed=12, digits=2)]
    assert [i.prompt for i in a] != [i.prompt for i in generate("add", 50, seed=13, digits=2)]
    train = generate("add", 2000, seed=14, split="train", digits=2)
    test = generate("add", 200, seed=15, split="test", digits=2)
    assert {i.key for i in train}.isdisjoint(i.key for i in test)
    assert all(tasks.is_test_key(i.key) for i in test)
    share = sum(tasks.is_test_key(f"{a}+{b}") for a in range(10, 100) for b in range(10, 100))
    assert 0.08 < share / 8100 < 0.12
    with pytest.raises(ValueError, match="family must be one of"):
        generate("poetry", 1)
    with pytest.raises(ValueError, match="split must be"):
        generate("add", 1, split="validation")
    with pytest.raises(ValueError, match="digits must be in 1..4"):
        generate("add", 1, digits=5)


def test_accuracy_and_baselines() -> None:
    items = [Item("say", "Say A.", "A", "a", "word", choices=("a", "b")),
             Item("say", "Say B.", "B", "b", "word", choices=("a", "b")),
             Item("say", "Say B.", "B", "b", "word", choices=("a", "b", "c", "d"))]
    assert tasks.accuracy(items, ["A", "x", "B"]) == pytest.approx(2 / 3)
    base = tasks.baseline_accuracy(items, items)
    assert base["majority"] == pytest.approx(2 / 3)
    assert base["random_choice"] == pytest.approx((0.5 + 0.5 + 0.25) / 3)
    with pytest.raises(ValueError, match="as many replies"):
        tasks.accuracy(items, ["A"])
