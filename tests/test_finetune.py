"""Chapter 7's package: LoRA against its merged layer, the base model and the PEFT library;
the prompt-loss mask on hand-made batches; the DPO loss against the paper's equation in
float64; quantisation against its error bound and PyTorch's own quantiser; the costs
against PyTorch's flop counter and Adam's state."""

from __future__ import annotations

import copy
import itertools
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course.data.tinylang import TinyLang
from genai_course.finetune import costs, dpo, instruction, lora, quantize
from genai_course.finetune import tinylang_tasks as tt
from genai_course.finetune.adaptation import answer_accuracy, finetune, trim_padding
from genai_course.llm.transformer import GPT, GPTConfig

IGNORE = instruction.IGNORE_INDEX


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """These models are tiny: one thread is fastest, and immune to a loaded machine."""


def tiny_gpt(seed: int = 0, vocab: int = 11, **kw) -> GPT:
    cfg = dict(vocab_size=vocab, block_size=16, n_layer=2, n_head=2, n_embd=8)
    return GPT(GPTConfig(**{**cfg, **kw}), seed=seed).eval()


def randomise_lora(model: nn.Module, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora.lora_layers(model).values():
            layer.lora_B.weight.copy_(torch.randn(layer.lora_B.weight.shape, generator=g))


# --------------------------------------------------------------------------------- LoRA


def test_lora_linear_shapes_init_and_frozen_base():
    base = nn.Linear(6, 5)
    torch.manual_seed(3)
    layer = lora.LoRALinear(base, r=2, alpha=16)
    assert layer.lora_A.weight.shape == (2, 6) and layer.lora_B.weight.shape == (5, 2)
    assert layer.lora_A.bias is None and layer.lora_B.bias is None
    assert layer.scaling == 8.0
    assert torch.count_nonzero(layer.lora_B.weight) == 0
    # Kaiming-uniform with a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in)), mean |a| = 1/(2 sqrt(in))
    big = lora.LoRALinear(nn.Linear(400, 3), r=50, alpha=1).lora_A.weight.detach()
    assert big.abs().max() <= 0.05 and abs(big.abs().mean().item() - 0.025) < 0.0005
    assert not any(p.requires_grad for p in layer.base.parameters())
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == [
        "lora_A.weight", "lora_B.weight"]


def test_lora_linear_equals_base_exactly_at_init_and_its_formula_after():
    base = nn.Linear(7, 4)
    layer = lora.LoRALinear(base, r=3, alpha=6)
    x = torch.randn(2, 5, 7)
    assert torch.equal(layer(x), base(x))
    randomise_lora(layer)
    want = (x.double() @ base.weight.double().T + base.bias.double()
            + 2.0 * x.double() @ layer.lora_A.weight.double().T @ layer.lora_B.weight.double().T)
    torch.testing.assert_close(layer(x).double(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_merge_returns_a_plain_linear_with_the_same_output(bias):
    base = nn.Linear(9, 6, bias=bias)
    layer = lora.LoRALinear(base, r=4, alpha=8)
    randomise_lora(layer)
    merged = layer.merge()
    assert type(merged) is nn.Linear and (merged.bias is None) == (not bias)
    x = torch.randn(3, 9)
    torch.testing.assert_close(merged(x), layer(x), atol=1e-5, rtol=1e-5)  # float32 rounding
    torch.testing.assert_close(merged.weight, base.weight + layer.delta_weight())


def test_dropout_acts_on_the_adapter_input_only_in_training():
    layer = lora.LoRALinear(nn.Linear(5, 5), r=2, alpha=2, dropout=0.5)
    randomise_lora(layer)
    x = torch.randn(4, 5)
    layer.eval()
    torch.testing.assert_close(layer(x), layer.merge()(x), atol=1e-5, rtol=1e-5)
    layer.train()
    assert not torch.allclose(layer(x), layer.merge()(x))


def test_bad_lora_arguments_are_named():
    with pytest.raises(TypeError, match="base"):
        lora.LoRALinear(nn.Conv1d(2, 2, 1), r=1, alpha=1)
    with pytest.raises(ValueError, match="r must be"):
        lora.LoRALinear(nn.Linear(2, 2), r=0, alpha=1)
    with pytest.raises(ValueError, match="alpha"):
        lora.LoRALinear(nn.Linear(2, 2), r=1, alpha=0)
    with pytest.raises(ValueError, match="dropout"):
        lora.LoRALinear(nn.Linear(2, 2), r=1, alpha=1, dropout=1.0)


def test_apply_lora_to_a_gpt_equals_the_base_then_merges_back():
    model = tiny_gpt()
    wrapped = copy.deepcopy(model)
    names = lora.apply_lora(wrapped, lora.GPT_TARGETS["all linear"], r=2, alpha=4, seed=0)
    assert len(names) == 2 * 4 and all(n.startswith("blocks.") for n in names)
    x = torch.randint(0, 11, (3, 12))
    assert torch.equal(wrapped(x), model(x))  # B = 0: exactly the base model
    trainable, total = lora.trainable_parameters(wrapped)
    d = 8
    per_block = 2 * (d + 3 * d) + 2 * (d + d) + 2 * (d + 4 * d) + 2 * (4 * d + d)
    assert trainable == 2 * per_block and total == model.num_parameters() + trainable
    randomise_lora(wrapped)
    out = wrapped(x)
    assert not torch.allclose(out, model(x))
    lora.merge_lora(wrapped)
    assert not lora.lora_layers(wrapped)
    assert all(type(m) is nn.Linear for n, m in wrapped.named_modules() if n in names)
    torch.testing.assert_close(wrapped(x), out, atol=1e-5, rtol=1e-5)


def test_apply_lora_matches_names_like_peft_and_rejects_unknown_targets():
    model = tiny_gpt()
    names = lora.apply_lora(copy.deepcopy(model), ["qkv"], r=1, alpha=1)
    assert names == ["blocks.0.attn.qkv", "blocks.1.attn.qkv"]
    names = lora.apply_lora(copy.deepcopy(model), ["blocks.1.mlp.0"], r=1, alpha=1)
    assert names == ["blocks.1.mlp.0"]
    with pytest.raises(ValueError, match="query"):
        lora.apply_lora(copy.deepcopy(model), ["query", "qkv"], r=1, alpha=1)


def test_lora_gives_the_peft_library_output_with_the_same_weights():
    peft = pytest.importorskip("peft")
    model = tiny_gpt(seed=2)
    theirs = peft.get_peft_model(
        copy.deepcopy(model),
        peft.LoraConfig(r=4, lora_alpha=8, target_modules=["qkv", "mlp.2"], lora_dropout=0.0))
    ours = copy.deepcopy(model)
    lora.apply_lora(ours, ["qkv", "mlp.2"], r=4, alpha=8)
    g = torch.Generator().manual_seed(0)
    state = {}
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g))
                state[name.replace(".default", "")] = p.detach().clone()
    assert set(lora.peft_state_dict(ours)) == set(state)
    with torch.no_grad():
        for name, layer in lora.lora_layers(ours).items():
            layer.lora_A.weight.copy_(state[f"base_model.model.{name}.lora_A.weight"])
            layer.lora_B.weight.copy_(state[f"base_model.model.{name}.lora_B.weight"])
    x = torch.randint(0, 11, (2, 10))
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=1e-6)
    assert lora.trainable_parameters(ours)[0] == sum(
        p.numel() for p in theirs.parameters() if p.requires_grad)


# ------------------------------------------------------------------------ the prompt mask


def test_answer_only_targets_on_hand_made_rows():
    ids = torch.tensor([[10, 11, 12, 13, 14, 0],
                        [20, 21, 22, 0, 0, 0],
                        [30, 31, 32, 33, 34, 35]])
    prompt_lengths = torch.tensor([2, 1, 5])
    lengths = torch.tensor([5, 3, 6])
    want = torch.tensor([[IGNORE, 12, 13, 14, IGNORE],  # predicts 11 (prompt) .. 14, then pad
                         [21, 22, IGNORE, IGNORE, IGNORE],
                         [IGNORE, IGNORE, IGNORE, IGNORE, 35]])
    assert torch.equal(instruction.answer_only_targets(ids, prompt_lengths, lengths), want)
    all_tokens = instruction.all_token_targets(ids, lengths)
    assert torch.equal(all_tokens[0], torch.tensor([11, 12, 13, 14, IGNORE]))


def test_lm_batch_pads_and_masks_examples():
    inputs, targets = instruction.lm_batch([([1, 2], [3, 4]), ([5], [6])], pad_id=0)
    assert torch.equal(inputs, torch.tensor([[1, 2, 3], [5, 6, 0]]))
    assert torch.equal(targets, torch.tensor([[IGNORE, 3, 4], [6, IGNORE, IGNORE]]))
    _, unmasked = instruction.lm_batch([([1, 2], [3, 4]), ([5], [6])], 0, mask_prompt=False)
    assert torch.equal(unmasked, torch.tensor([[2, 3, 4], [6, IGNORE, IGNORE]]))
    with pytest.raises(ValueError, match="example 1"):
        instruction.lm_batch([([1], [2]), ([], [3])], pad_id=0)
    with pytest.raises(ValueError, match="prompt_lengths"):
        instruction.answer_only_targets(torch.zeros(1, 3, dtype=torch.long),
                                        torch.tensor([3]), torch.tensor([2]))


def test_masked_loss_and_sequence_log_probs_count_only_answer_tokens():
    model = tiny_gpt()
    inputs, targets = instruction.lm_batch([([1, 2, 3], [4, 5]), ([6], [7, 8, 9])], pad_id=0)
    logp = torch.log_softmax(model(inputs), -1)
    # by hand: row 0 scores tokens 4, 5 at positions 2, 3; row 1 scores 7, 8, 9 at 0, 1, 2
    row0 = logp[0, 2, 4] + logp[0, 3, 5]
    row1 = logp[1, 0, 7] + logp[1, 1, 8] + logp[1, 2, 9]
    got = instruction.sequence_log_probs(model, inputs, targets)
    torch.testing.assert_close(got, torch.stack([row0, row1]))
    torch.testing.assert_close(instruction.masked_cross_entropy(model, inputs, targets),
                               -(row0 + row1) / 5)
    x, y = trim_padding(inputs, targets)
    assert x.shape[1] == 4 and torch.equal(y, targets[:, :4])


def test_greedy_answers_equal_one_prompt_at_a_time_generation():
    model = tiny_gpt(seed=4)
    prompts = [[1, 2, 3], [4, 5], [1, 2, 4], [7]]
    answers = instruction.greedy_answers(model, prompts, max_new_tokens=5, stop_id=3)
    for prompt, answer in zip(prompts, answers, strict=True):
        out = model.generate(torch.tensor([prompt]), 5, temperature=0.0)[0, len(prompt):]
        row = out.tolist()
        assert answer == (row[:row.index(3)] if 3 in row else row)
    refs = [answers[0], [9], answers[2], [9]]
    assert answer_accuracy(model, prompts, refs, stop_id=3, max_new_tokens=5) == 0.5


# --------------------------------------------------------------------------------- DPO


def dpo_reference(pc, pr, rc, rr, beta):
    """Rafailov et al. 2023, eq. 7, in float64, one pair at a time."""
    losses = []
    for a, b, c, d in zip(pc, pr, rc, rr, strict=True):
        z = beta * math.log(math.exp(a) / math.exp(c)) - beta * math.log(math.exp(b) / math.exp(d))
        losses.append(-math.log(1.0 / (1.0 + math.exp(-z))))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("beta", [0.05, 0.5, 2.0])
def test_dpo_loss_matches_the_papers_equation_in_float64(beta):
    g = torch.Generator().manual_seed(int(beta * 100))
    logps = [-torch.rand(32, generator=g, dtype=torch.float64) * 20 for _ in range(4)]
    got = dpo.dpo_loss(*logps, beta=beta)
    want = dpo_reference(*(t.tolist() for t in logps), beta)
    assert abs(got.item() - want) < 1e-9  # the reference's exp/log lose a few digits


def test_dpo_loss_at_zero_margin_is_log_2_and_stays_finite_far_out():
    zero = torch.zeros(3)
    assert abs(dpo.dpo_loss(zero, zero, zero, zero, 0.1).item() - math.log(2)) < 1e-7
    big = torch.tensor([2000.0])
    assert dpo.dpo_loss(-big, big, zero[:1], zero[:1], 1.0).item() == pytest.approx(4000.0)
    assert dpo.dpo_loss(big, -big, zero[:1], zero[:1], 1.0).item() == 0.0
    with pytest.raises(ValueError, match="beta"):
        dpo.dpo_loss(zero, zero, zero, zero, 0.0)


def test_dpo_gradient_raises_chosen_and_lowers_rejected():
    pc, pr = torch.tensor([-3.0], requires_grad=True), torch.tensor([-2.0], requires_grad=True)
    dpo.dpo_loss(pc, pr, torch.tensor([-2.5]), torch.tensor([-2.5]), 0.5).backward()
    assert pc.grad.item() < 0 < pr.grad.item()


def test_dpo_training_prefers_the_chosen_answers_and_leaves_the_reference_alone():
    torch.manual_seed(0)
    reference = tiny_gpt(seed=5)
    policy = copy.deepcopy(reference)
    frozen = copy.deepcopy(reference.state_dict())
    pairs = [([1, 2, k % 4 + 3], [7, 8], [9, 10]) for k in range(24)]
    before = dpo.preference_accuracy(policy, reference, pairs, pad_id=0)
    assert before == 0.5  # policy == reference: every margin is 0, ties count half
    history = dpo.train_dpo(policy, reference, pairs, pad_id=0, beta=0.5, steps=30,
                            batch_size=8, lr=3e-3, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert dpo.preference_accuracy(policy, reference, pairs, pad_id=0) == 1.0
    assert all(torch.equal(v, reference.state_dict()[k]) for k, v in frozen.items())


def exact_sequence_kl(policy, reference, prompt, stop_id, max_new_tokens, vocab):
    """Sum over every possible answer (ended by the stop token or by the length limit)."""
    total = 0.0
    for length in range(1, max_new_tokens + 1):
        for answer in itertools.product(range(vocab), repeat=length):
            if stop_id in answer[:-1] or (length < max_new_tokens and answer[-1] != stop_id):
                continue
            ids = torch.tensor([list(prompt) + list(answer)])
            lp = torch.log_softmax(policy(ids[:, :-1]).double(), -1)[0, len(prompt) - 1:]
            lq = torch.log_softmax(reference(ids[:, :-1]).double(), -1)[0, len(prompt) - 1:]
            a = torch.tensor(answer)
            logp, logq = lp[range(length), a].sum(), lq[range(length), a].sum()
            total += (logp.exp() * (logp - logq)).item()
    return total


def test_sequence_kl_is_zero_for_the_reference_and_unbiased_otherwise():
    reference = tiny_gpt(seed=6, vocab=3)
    policy = tiny_gpt(seed=7, vocab=3)
    prompt = [0, 1]
    kl, se = dpo.sequence_kl(reference, reference, [prompt], stop_id=2, max_new_tokens=3,
                             samples=4)
    assert kl == 0.0 and se == 0.0
    exact = exact_sequence_kl(policy, reference, prompt, 2, 3, 3)
    est, se = dpo.sequence_kl(policy, reference, [prompt] * 4, stop_id=2, max_new_tokens=3,
                              samples=500)
    assert exact > 0 and abs(est - exact) < 4 * se + 1e-9, (est, exact, se)


# ------------------------------------------------------------------------ quantisation


@pytest.mark.parametrize(("bits", "per_channel"), itertools.product((8, 4), (True, False)))
def test_absmax_quantisation_stays_within_half_a_step(bits, per_channel):
    g = torch.Generator().manual_seed(bits)
    w = torch.randn(16, 24, generator=g) * torch.rand(16, 1, generator=g) * 3
    q, scale = quantize.absmax_quantize(w, bits, per_channel)
    top = 2 ** (bits - 1) - 1
    assert q.dtype == torch.int8 and q.shape == w.shape
    assert scale.shape == ((16, 1) if per_channel else (1, 1))
    assert int(q.abs().max()) == top  # the largest weight maps to the top level
    torch.testing.assert_close(scale.expand(16, 1) if not per_channel else scale,
                               (w.abs().amax(1, keepdim=True) if per_channel
                                else w.abs().max().expand(16, 1)) / top)
    err = (quantize.dequantize(q, scale) - w).abs()
    assert (err <= scale / 2 + 1e-6).all()


def test_per_channel_scales_equal_pytorchs_own_quantiser():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 32, generator=g)
    w[3] *= 40  # an outlier channel
    q, scale = quantize.absmax_quantize(w, 8, per_channel=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = torch.quantize_per_channel(w, scale.flatten().double(),
                                             torch.zeros(8, dtype=torch.long), 0, torch.qint8)
        except (RuntimeError, AttributeError):
            pytest.skip("this PyTorch build has no quantize_per_channel")
    assert torch.equal(q, ref.int_repr())
    per_tensor = quantize.dequantize(*quantize.absmax_quantize(w, 8, per_channel=False))
    per_row = quantize.dequantize(q, scale)
    others = torch.arange(8) != 3
    assert (per_row - w)[others].abs().max() < (per_tensor - w)[others].abs().max() / 10


def test_zero_rows_and_bad_inputs():
    q, scale = quantize.absmax_quantize(torch.zeros(2, 3), 8)
    assert torch.equal(q, torch.zeros(2, 3, dtype=torch.int8)) and torch.equal(scale,
                                                                               torch.ones(2, 1))
    with pytest.raises(ValueError, match="bits"):
        quantize.absmax_quantize(torch.ones(2, 2), 3)
    with pytest.raises(ValueError, match="2-D"):
        quantize.absmax_quantize(torch.ones(2), 8)


@pytest.mark.parametrize("n", [1, 6, 7])
def test_int4_packing_round_trips_and_halves_the_bytes(n):
    q = torch.arange(-8, 8, dtype=torch.int8).repeat(n)[:15 * n].reshape(n, 15)
    packed = quantize.pack_int4(q)
    assert packed.dtype == torch.uint8 and packed.numel() == (q.numel() + 1) // 2
    assert torch.equal(quantize.unpack_int4(packed, q.shape), q)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        quantize.pack_int4(torch.tensor([8]))


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_model_runs_dequantised_matmuls_and_shrinks_the_file(bits):
    model = tiny_gpt(n_embd=32)
    qmodel = quantize.quantize_linear_layers(model, bits=bits)
    layers = [m for m in qmodel.modules() if isinstance(m, quantize.QuantizedLinear)]
    assert len(layers) == 8 and not isinstance(qmodel.lm_head, quantize.QuantizedLinear)
    layer = layers[0]
    x = torch.randn(2, 32)
    want = F.linear(x, quantize.dequantize(*quantize.absmax_quantize(
        model.blocks[0].attn.qkv.weight, bits)), model.blocks[0].attn.qkv.bias)
    torch.testing.assert_close(layer(x), want)
    ids = torch.randint(0, 11, (2, 8))
    assert (qmodel(ids) - model(ids)).abs().max() < (0.05 if bits == 8 else 0.5)
    full = quantize.state_dict_bytes(model)
    assert quantize.state_dict_bytes(qmodel) < full
    assert quantize.state_dict_bytes(model, torch.float16) < 0.6 * full


def test_rounded_weights_differ_by_at_most_the_formats_precision():
    model = tiny_gpt()
    for dtype, eps in ((torch.float16, 2 ** -11), (torch.bfloat16, 2 ** -8)):
        rounded = quantize.round_weights(model, dtype)
        for (_, a), (_, b) in zip(model.named_parameters(), rounded.named_parameters(),
                                  strict=True):
            assert ((a - b).abs() <= eps * a.abs() + 1e-7).all()


def test_pytorch_dynamic_int8_path_is_close_where_available():
    model = tiny_gpt(n_embd=32)
    qmodel = quantize.torch_dynamic_int8(model)
    if qmodel is None:
        pytest.skip("no torch.ao dynamic quantisation in this build")
    ids = torch.randint(0, 11, (2, 8))
    assert (qmodel(ids) - model(ids)).abs().max() < 0.1


# ------------------------------------------------------------------------------ costs


def test_step_flops_match_the_matmul_count():
    layer = nn.Linear(32, 16, bias=False)
    x = torch.randn(10, 32)
    # forward 2 B in out; backward: the weight's gradient only (x needs none)
    assert costs.step_flops(lambda: layer(x).sum()) == 2 * (2 * 10 * 32 * 16)
    frozen = lora.LoRALinear(nn.Linear(32, 16, bias=False), r=2, alpha=2)
    flops = costs.step_flops(lambda: frozen(x).sum())
    base = 2 * 10 * 32 * 16  # forward only: no gradient for the frozen weight or for x
    adapter = 3 * 2 * 10 * (32 * 2 + 2 * 16) - 2 * 10 * 32 * 2  # A gets no input gradient
    assert flops == base + adapter


def test_training_state_bytes_count_adams_two_moments():
    model = lora.LoRALinear(nn.Linear(10, 10), r=2, alpha=2)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    model(torch.randn(3, 10)).sum().backward()
    opt.step()
    state = costs.training_state_bytes(model, opt)
    n = 2 * 10 + 10 * 2
    assert state["trainable_parameters"] == 4 * n
    assert state["optimizer_state"] == 2 * 4 * n + 4 * 2  # two moments + a step count per tensor
    assert state["total"] == 2 * 4 * n + state["optimizer_state"]


def test_update_spectrum_of_a_lora_update_has_rank_r():
    layer = lora.LoRALinear(nn.Linear(12, 9), r=3, alpha=3)
    randomise_lora(layer)
    s = costs.update_singular_values(layer.base.weight, layer.merge().weight)
    assert s.shape == (9,) and (s[3:] < 1e-5 * s[0]).all() and (s[:3] > 1e-3).all()
    assert costs.energy_rank(torch.tensor([4.0, 3.0, 0.0]), 0.64) == 1  # 16 of 25
    assert costs.energy_rank(torch.tensor([4.0, 3.0, 0.0]), 0.65) == 2
    assert costs.energy_rank(torch.zeros(4)) == 0


# ------------------------------------------------------------------ adaptation, the task


def test_finetune_trains_a_copy_and_records_its_costs():
    model = tiny_gpt(seed=8)
    before = copy.deepcopy(model.state_dict())
    examples = [([1, 2, 3], [4, 5]), ([1, 2], [6, 5])] * 8
    tuned, record = finetune(model, examples, pad_id=0, steps=3, method="lora", r=2, alpha=4,
                             targets=["qkv"], batch_size=4, progress=False)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert record["trainable"] == 2 * 2 * (8 + 24) == lora.trainable_parameters(tuned)[0]
    # weights, gradients and Adam's two moments in float32, and a step count per tensor
    assert record["state_bytes"] == 4 * 4 * record["trainable"] + 4 * 4
    assert len(record["loss"]) == 3 and record["step_flops"] > 0
    _, full = finetune(model, examples, pad_id=0, steps=3, method="full", batch_size=4,
                       progress=False)
    assert full["trainable"] == model.num_parameters() and full["step_flops"] > 0
    with pytest.raises(ValueError, match="method"):
        finetune(model, examples, pad_id=0, steps=1, method="half")


def test_last_word_task_answers_on_hand_made_sentences():
    s = "the red queen who finds the keys sleeps near the river and she sees the ball."
    assert tt.last_word(s) == "ball"
    answers = tt.question_answers(s)
    assert answers["concise"] == "ball.\n" and answers["verbose"] == "the last word is ball.\n"
    wrong = answers["wrong"][:-2]
    assert wrong in s.split() and wrong not in ("ball", "the")
    assert tt.last_word("the blue witch runs.") == "runs"
    assert tt.question_prompt("the boy runs.") == "\nthe boy runs. last "
    lang = TinyLang(0)
    alphabet = set(lang.alphabet())
    for sentence in tt.task_sentences(lang, "test", 50):
        text = tt.question_prompt(sentence) + tt.question_answers(sentence)["verbose"]
        assert set(text) <= alphabet
    with pytest.raises(ValueError, match="no words"):
        tt.last_word(".")
    with pytest.raises(ValueError, match="no other word"):
        tt.question_answers("the the.")


def test_last_word_task_examples_pairs_and_scores_of_an_untrained_model():
    from genai_course.llm.tinylang_lm import tinylang_tokenizer
    tok = tinylang_tokenizer()
    task = tt.LastWordTask(tok, n_test=8, n_validation=4)
    examples = task.train_examples(40, {"concise": 0.5, "verbose": 0.5}, seed=3)
    styles = set()
    for prompt, answer in examples:
        sentence = tok.decode(prompt)[1:-len(tt.QUESTION)]
        answers = tt.question_answers(sentence)
        assert tok.decode(answer) in (answers["concise"], answers["verbose"])
        styles.add(tok.decode(answer) == answers["concise"])
    assert styles == {True, False}  # both styles occur in the mix
    for prompt, chosen, rejected in task.preference_pairs(task.test, seed=1):
        sentence = tok.decode(prompt)[1:-len(tt.QUESTION)]
        assert tok.decode(chosen) == f"{tt.last_word(sentence)}.\n"
        assert tok.decode(rejected) != tok.decode(chosen)
        assert tok.decode(rejected).endswith(".\n")
    model = tiny_gpt(seed=2, vocab=tok.vocab_size, block_size=160)
    model.tokenizer = tok  # floor_report encodes with the model's tokenizer
    assert task.new_task_accuracy(model) == 0.0  # an untrained model never answers exactly
    scores = task.old_task_scores(model, samples=8)
    assert scores["floor_ratio"] > 1.5 and 0.0 <= scores["grammatical"] <= 1.0
