"""The shipped tinygpt-tinylang checkpoint: offline load, hash, and its loss against the exact
TinyLang entropy floor; the recipe's pieces on a tiny budget."""

from __future__ import annotations

import pytest
import torch

from genai_course.data.tinylang import TinyLang
from genai_course.llm import tinylang_lm
from genai_course.llm.tokenizers import CharTokenizer
from genai_course.llm.transformer import GPT, count_parameters
from genai_course.pretrained import REGISTRY, load_pretrained, sha256_of
from genai_course.pretrained import tinygpt_tinylang as tinygpt


@pytest.fixture(scope="module")
def model() -> GPT:
    return load_pretrained("tinygpt-tinylang")


def test_checkpoint_is_small_hash_checked_and_carries_its_tokenizer(model: GPT) -> None:
    entry = REGISTRY["tinygpt-tinylang"]
    assert sha256_of(entry.path) == entry.sha256
    assert entry.path.stat().st_size < 3_000_000
    assert not model.training and isinstance(model, GPT)
    assert isinstance(model.tokenizer, CharTokenizer)
    assert model.tokenizer.chars == list(TinyLang().alphabet())
    assert model.num_parameters() == count_parameters(model.config) > 500_000
    assert model.retrain_command == "genai-course retrain tinygpt-tinylang"
    assert model.metrics["ratio_to_floor"] < 1.1 and len(model.loss_curve) == model.metrics[
        "steps"]


def test_validation_loss_is_within_ten_percent_of_the_entropy_floor(model: GPT,
                                                                     one_thread) -> None:
    """200 validation sentences (about 8,000 characters). The sampling noise of the text is
    removed by comparing with the true model's loss on the same text; against the exact
    floor the standard error of this estimate is about 2% (4.1 nats per sentence / sqrt(200)
    over 13 nats), well inside the 10% margin."""
    lang = TinyLang(tinygpt.LANGUAGE_SEED)
    report = tinylang_lm.floor_report(model, lang, lang.text("validation", 200))
    assert report["floor"] == pytest.approx(lang.entropy_per_char())
    assert report["ratio_to_true_loss"] < 1.1
    assert report["ratio_to_floor"] < 1.1
    assert report["loss"] > 0.9 * report["true_loss_on_text"]  # no model beats the truth


def test_generated_text_is_mostly_grammatical(model: GPT, one_thread) -> None:
    lang = TinyLang()
    prompt = torch.tensor([model.tokenizer.encode("\n")] * 8)
    out = model.generate(prompt, 120, generator=torch.Generator().manual_seed(0))
    texts = [model.tokenizer.decode(row[1:].tolist()) for row in out]
    sentences = [s for text in texts for s in text.split("\n")[:-1]]  # complete sentences
    assert len(sentences) >= 8
    grammatical = sum(lang.log_prob(s) > float("-inf") for s in sentences)
    assert grammatical >= 0.8 * len(sentences), sentences


def test_recipe_pieces(one_thread) -> None:
    tok = tinylang_lm.tinylang_tokenizer()
    ids = tinylang_lm.encode_text(tok, "the boy runs.\n")
    assert ids.dtype == torch.long and tok.decode(ids.tolist()) == "\nthe boy runs.\n"
    payload = {"config": dict(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2,
                              n_embd=8, dropout=0.0, positional="rope", n_experts=0,
                              moe_top_k=2)}
    small = GPT(tinygpt.GPTConfig(**payload["config"]), seed=0)
    payload["state_dict"] = {k: v.half() for k, v in small.state_dict().items()}
    payload["extra"] = {"alphabet": "".join(tok.chars), "loss_curve": [1.0]}
    loaded = tinygpt.load(payload)
    assert loaded.tokenizer.chars == tok.chars and loaded.loss_curve == [1.0]
    assert loaded.tok_emb.weight.dtype == torch.float32
    torch.testing.assert_close(loaded.tok_emb.weight, small.tok_emb.weight, atol=1e-3, rtol=1e-2)


def test_trainer_payload_is_plain_data_and_round_trips(monkeypatch, tmp_path, one_thread) -> None:
    """The trainer on a tiny budget: its payload saves and loads with weights_only=True."""
    monkeypatch.setitem(tinygpt.TRAINING, "steps", 3)
    monkeypatch.setattr(tinygpt, "TRAIN_SENTENCES", 200)
    monkeypatch.setattr(tinygpt, "VALIDATION_SENTENCES", 10)
    payload = tinygpt.train(seed=1)
    assert payload["state_dict"]["tok_emb.weight"].dtype == torch.float16
    assert set(payload["metrics"]) >= {"loss", "floor", "ratio_to_floor", "parameters"}
    torch.save(payload, tmp_path / "p.pt")
    loaded = tinygpt.load(torch.load(tmp_path / "p.pt", weights_only=True))
    assert loaded.config == tinygpt.GPTConfig(**payload["config"])
    assert len(loaded.loss_curve) == 3 and loaded.num_parameters() == payload["metrics"][
        "parameters"]
