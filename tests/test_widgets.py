import math

import pytest

from genai_course.classic.ngram import NGramLanguageModel
from genai_course.viz.widgets import ngram_generator, top_tokens

CORPUS = [["a", "b"], ["a", "c"], ["a", "b", "<tag>"]]


def test_top_tokens_follow_the_tempered_distribution():
    lm = NGramLanguageModel(2).fit(CORPUS)
    assert top_tokens(lm, ["a"], 1.0) == [("b", pytest.approx(2 / 3)), ("c", pytest.approx(1 / 3))]
    (first, p_first), (_, p_second) = top_tokens(lm, ["a"], 0.5)
    assert first == "b" and math.isclose(p_first, 4 / 5) and math.isclose(p_second, 1 / 5)


def test_widget_updates_when_sliders_move_and_escapes_html():
    lm = NGramLanguageModel(2).fit(CORPUS)
    box = ngram_generator(lm, context=["a"], num_tokens=5)
    temperature, seed, length = box.children[0].children
    table, text = box.children[1], box.children[2]
    assert "<code>b</code>" in table.value and "sample:" in text.value
    before = table.value
    temperature.value = 0.1
    assert table.value != before
    seed.value = 3
    length.value = 10
    lm_tags = NGramLanguageModel(2).fit([["<tag>"]])
    tagged = ngram_generator(lm_tags)
    assert "&lt;tag&gt;" in tagged.children[1].value
