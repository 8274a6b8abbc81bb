"""The multiple-choice harness: items checked by TinyLang's exact grammar, the three ways
of scoring on models with known answers, and the model adapters against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genai_course.data.tinylang import TinyLang
from genai_course.evaluation.language_models import CharGPT, CharNGram, ChatTextModel, TextModel
from genai_course.evaluation.multiple_choice import (
    MCItem,
    accuracy,
    agreement_items,
    letter_prompt,
    score_items,
    score_methods,
    world_items,
)


@pytest.fixture(scope="module")
def items():
    return agreement_items(30, seed=1)


def test_each_item_has_exactly_one_grammatical_choice(items):
    language = TinyLang(0)
    for it in items:
        grammatical = [language.log_prob(f"{it.question} {c}") > -math.inf for c in it.choices]
        assert grammatical == [i == it.answer for i in range(len(it.choices))]
        assert len(set(it.choices)) == len(it.choices)
    assert len({it.answer for it in items}) > 1  # the right answer moves around


class TableModel:
    """A TextModel whose scores come from a table: the harness's arithmetic is checked
    against answers known in advance."""

    name = "table"

    def __init__(self, scores, replies=None):
        self.scores, self.replies, self.asked = scores, replies or {}, []

    def logprobs(self, pairs):
        self.asked.extend(pairs)
        return [self.scores.get(p, -10.0) for p in pairs]

    def generate(self, prompts, max_chars, temperature=0.0, seed=0, stop="\n"):
        return [self.replies.get(p, "") for p in prompts]


def test_scoring_methods_on_a_model_with_known_answers():
    item = MCItem("q", ("x.", "yy.", "z."), answer=1)
    model = TableModel({("q", " x."): -3.0, ("q", " yy."): -3.5, ("q", " z."): -9.0})
    assert isinstance(model, TextModel)
    # full: -3 (x) beats -3.5 (yy); per character: -3/3 = -1 loses to -3.5/4
    assert score_items(model, [item], "full").tolist() == [0.0]
    assert score_items(model, [item], "full_norm").tolist() == [1.0]
    prompt = letter_prompt(item)
    assert prompt == "q\na x.\nb yy.\nc z.\nanswer "
    model.scores.update({(prompt, "a"): -2.0, (prompt, "b"): -1.0, (prompt, "c"): -1.0})
    assert score_items(model, [item], "letter").tolist() == [0.5]  # a tie earns half
    model.replies = {prompt: " b."}
    assert score_items(model, [item], "generate").tolist() == [1.0]
    model.replies = {prompt: "yes"}
    assert score_items(model, [item], "generate").tolist() == [0.0]
    with pytest.raises(ValueError, match="method"):
        score_items(model, [item], "mmlu")


def test_accuracy_and_item_checks():
    mean, se = accuracy(np.array([1.0, 0.0, 1.0, 1.0]))
    assert mean == 0.75 and se == pytest.approx(0.5 / 2)
    with pytest.raises(ValueError, match="answer must index"):
        MCItem("q", ("a", "b"), 2)


def test_char_gpt_logprobs_by_hand(one_thread):
    from genai_course.llm.tokenizers import CharTokenizer
    from genai_course.llm.transformer import GPT, GPTConfig

    tok = CharTokenizer("\n abc.")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=6, n_layer=1, n_head=2,
                          n_embd=16), seed=0)
    adapter = CharGPT(model, tok, batch_size=2)
    pairs = [("ab", " c."), ("", "a"), ("abcabcab", "ca")]  # the last one is cropped

    def by_hand(context, continuation):
        ids = tok.encode("\n" + context + continuation)[-7:]
        n = len(continuation)
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids[:-1]])).double(), -1)[0]
        return sum(float(logp[p - 1, ids[p]]) for p in range(len(ids) - n, len(ids)))

    got = adapter.logprobs(pairs)
    assert got == pytest.approx([by_hand(*p) for p in pairs], abs=1e-6)
    # one-character continuations take the shared-context path: same values
    letters = [("ab", "c"), ("ab", "a"), ("abcabcab", "c"), ("", ".")]
    assert adapter.logprobs(letters) == pytest.approx([by_hand(*p) for p in letters], abs=1e-6)
    replies = adapter.generate(["ab", "ba", "ab"], max_chars=4, stop=None)
    assert len(replies) == 3 and replies[0] == replies[2] and all(len(r) == 4 for r in replies)


def test_char_ngram_logprobs_by_hand():
    model = CharNGram.fit(["ab.", "abb."], n=2, add_k=0.5)
    m = model.model
    want = math.log(m.prob("b", ["a"])) + math.log(m.prob(".", ["a", "b"]))
    assert model.logprobs([("a", "b.")]) == pytest.approx([want])
    with pytest.raises(ValueError, match="add_k > 0"):
        CharNGram(type(m)(2).fit([["a"]]))


def test_tinygpt_knows_agreement_but_not_the_letter_format(items, one_thread):
    from genai_course.pretrained import load_pretrained

    gpt = CharGPT(load_pretrained("tinygpt-tinylang"), name="tinygpt")
    assert accuracy(score_items(gpt, items, "full"))[0] > 0.85
    assert accuracy(score_items(gpt, items, "generate"))[0] < 0.2  # it writes TinyLang instead


def test_chat_text_model_scores_the_reply_after_the_chat_template(one_thread):
    """The user's message in the template, then the reply's tokens, summed by hand from the
    network's log-softmax; the harness's separating space is not part of the reply."""
    from genai_course.llm.chat import ChatModel, ChatTokenizer
    from genai_course.llm.transformer import GPT, GPTConfig

    tok = ChatTokenizer()
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2,
                          n_embd=16), seed=0)
    adapter = ChatTextModel(ChatModel(model, tok), name="chat")

    def by_hand(context, reply):
        prompt = ([tok.role_ids["user"], *tok.encode(context), tok.end_id,
                   tok.role_ids["assistant"]])
        ids = prompt + tok.encode(reply)
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids[:-1]])).double(), -1)[0]
        return sum(float(logp[p - 1, ids[p]]) for p in range(len(prompt), len(ids)))

    pairs = [("What is 2 + 3?", " 5"), ("Who?", " a fox"), ("Who?", "b")]
    assert adapter.logprobs(pairs) == pytest.approx([by_hand("What is 2 + 3?", "5"),
                                                     by_hand("Who?", "a fox"),
                                                     by_hand("Who?", "b")], abs=1e-4)
    with pytest.raises(ValueError, match="must not be empty"):
        adapter.logprobs([("Who?", " ")])
    greedy = adapter.generate(["Hi", "Who?"], max_chars=5, stop=None)
    assert greedy == [adapter.chat.chat([{"role": "user", "content": p}], temperature=0,
                                        max_tokens=5).text for p in ["Hi", "Who?"]]


def test_world_items_ask_tinyworld_facts_with_one_true_choice():
    from genai_course.data import tasks
    from genai_course.data.tinyworld import VALUES, default_world

    world = default_world()
    for people in ("trained", "held_back"):
        asked = world_items(30, people=people, seed=3)
        facts = tasks.generate("fact", 30, seed=3, split="test", people=people)
        assert [it.question for it in asked] == [f.prompt for f in facts]
        for it, fact in zip(asked, facts, strict=True):
            person = world.person(fact.meta["person"])
            values = VALUES[fact.meta["attribute"]]
            assert person.split == people
            assert it.choices[it.answer] == person.value(fact.meta["attribute"])
            assert len(set(it.choices)) == 4 and set(it.choices) <= set(values)
        assert len({it.answer for it in asked}) > 1  # the right answer moves around


def test_tinychat_knows_trained_facts_only_by_full_answer(one_thread):
    """The shipped TinyChat: the facts it was trained on by full-answer likelihood, chance on
    the held-back people, and (a measured failure) chance when read off by letter."""
    from genai_course.pretrained.tinychat import load_chat

    chat = ChatTextModel(load_chat(), name="TinyChat")
    trained = score_methods(chat, world_items(40, "trained"), ["full", "letter"])
    held_back = score_items(chat, world_items(40, "held_back"), "full")
    assert accuracy(trained["full"])[0] >= 0.85
    assert accuracy(held_back)[0] <= 0.45
    assert accuracy(trained["letter"])[0] <= 0.45
