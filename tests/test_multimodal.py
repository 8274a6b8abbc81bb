"""Cross-attention against PyTorch, Flamingo's gates as an exact identity, the text-conditioned
U-Net and the samplers' condition protocol, the captioner, and the audio path."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genai_course.data import shapes
from genai_course.diffusion import DDIM, NoiseSchedule, UNet, sample
from genai_course.diffusion.training import diffusion_loss
from genai_course.llm.transformer import GPT, GPTConfig
from genai_course.multimodal import audio
from genai_course.multimodal.attention import (
    CrossAttention,
    GatedCrossAttentionBlock,
    SpatialCrossAttention,
    cross_attend,
    gated_cross_attention,
    keep_attention_maps,
    set_attention,
    set_gated_forward,
)
from genai_course.multimodal.captioner import Captioner, score_captions, train_captioner
from genai_course.multimodal.clip import ImageEncoder, TextEncoder
from genai_course.multimodal.text_to_image import (
    ImageAutoencoder,
    TextConditionedDenoiser,
    TextToImage,
    train_autoencoder,
)
from genai_course.multimodal.tokens import PAD, WordTokenizer

TOKENIZER = WordTokenizer(shapes.VOCABULARY)

# tiny models: one thread is fastest, and immune to a loaded machine
pytestmark = pytest.mark.usefixtures("one_thread")


def test_cross_attend_matches_pytorch_with_a_key_padding_mask() -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64)
    k = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64)
    v = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    out, weights = cross_attend(q, k, v, mask)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    assert weights[1, :, :, 4:].abs().max() == 0  # padding gets exactly no weight
    with pytest.raises(ValueError, match="key_mask"):
        cross_attend(q, k, v, mask.long())


def test_cross_attention_layer_keeps_maps_and_swaps_its_attend() -> None:
    torch.manual_seed(0)
    layer = CrossAttention(16, 8, n_head=4)
    x, ctx = torch.randn(2, 6, 16), torch.randn(2, 3, 8)
    layer.keep_weights = True
    out = layer(x, ctx)
    assert out.shape == (2, 6, 16) and layer.last_weights.shape == (2, 4, 6, 3)
    calls = []

    def spy(q, k, v, key_mask):
        calls.append(q.shape)
        return cross_attend(q, k, v, key_mask)

    assert set_attention(layer, spy) == 1
    torch.testing.assert_close(layer(x, ctx), out)
    assert calls == [(2, 4, 6, 4)]
    set_attention(layer)
    assert layer.attend is cross_attend


def test_gated_block_is_exactly_the_identity_at_initialisation() -> None:
    torch.manual_seed(0)
    block = GatedCrossAttentionBlock(16, 8, n_head=2)
    x, ctx = torch.randn(3, 5, 16), torch.randn(3, 4, 8)
    assert torch.equal(block(x, ctx), x)
    with torch.no_grad():
        block.attn_gate.fill_(0.5)
        block.ff_gate.fill_(-1.0)
    h = x + math.tanh(0.5) * block.attn(block.ln_attn(x), ctx)
    want = h + math.tanh(-1.0) * block.ff(block.ln_ff(h))
    torch.testing.assert_close(block(x, ctx), want)


def test_gated_cross_attention_is_the_block_as_a_function_of_its_parameters() -> None:
    torch.manual_seed(0)
    block = GatedCrossAttentionBlock(16, 8, n_head=4).double()
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    ctx = torch.randn(3, 4, 8, dtype=torch.float64)
    mask = torch.tensor([[True] * 4, [True, False, False, False], [True, True, True, False]])
    params = dict(block.named_parameters())
    assert torch.equal(gated_cross_attention(x, ctx, mask, params, 4), x)  # gates at 0
    with torch.no_grad():
        block.attn_gate.fill_(0.8)
        block.ff_gate.fill_(-0.6)
    for m in (mask, None):
        torch.testing.assert_close(gated_cross_attention(x, ctx, m, params, 4), block(x, ctx, m),
                                   atol=1e-12, rtol=0)
    # the gates (and every other parameter) get their gradient through the function
    gated_cross_attention(x, ctx, mask, params, 4).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params.values())
    with pytest.raises(ValueError, match="ff_gate"):
        gated_cross_attention(x, ctx, mask, {k: v for k, v in params.items() if k != "ff_gate"}, 4)
    with pytest.raises(ValueError, match="divisible"):
        gated_cross_attention(x, ctx, mask, params, 3)


def test_set_gated_forward_makes_the_blocks_run_a_function() -> None:
    torch.manual_seed(0)
    block = GatedCrossAttentionBlock(8, 4, n_head=2)
    x, ctx = torch.randn(2, 3, 8), torch.randn(2, 5, 4)
    calls = []

    def spy(x, context, context_mask, params, n_head):
        calls.append((sorted(params), n_head))
        return gated_cross_attention(x, context, context_mask, params, n_head)

    with torch.no_grad():
        block.attn_gate.fill_(0.3)
    want = block(x, ctx)
    assert set_gated_forward(torch.nn.Sequential(block), spy) == 1
    torch.testing.assert_close(block(x, ctx), want)
    assert calls == [(sorted(n for n, _ in block.named_parameters()), 2)]
    set_gated_forward(block)
    assert block.forward_fn is None


def tiny_captioner(seed: int = 0) -> Captioner:
    lm = GPT(GPTConfig(vocab_size=TOKENIZER.vocab_size, block_size=16, n_layer=2, n_head=2,
                       n_embd=32), seed=seed)
    vision = ImageEncoder(32, (8, 8, 16), width=16, heads=2)
    return Captioner(lm, vision, TOKENIZER, n_head=2, seed=seed)


def test_captioner_at_initialisation_is_the_language_model_bit_for_bit() -> None:
    model = tiny_captioner().eval()
    data = shapes.make_shapes(6, seed=0)
    ids = TOKENIZER.batch(data.captions, 16)
    with torch.no_grad():
        assert torch.equal(model(data.images, ids), model.lm(ids))
    assert set(model.gates().values()) == {0.0}
    # the language model and the eyes are frozen; only the new blocks learn
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("xattn.") for n in trainable)


def test_captioner_through_the_gated_function_is_still_the_language_model() -> None:
    model = tiny_captioner().eval()
    assert set_gated_forward(model, gated_cross_attention) == 2  # one block per LM block
    data = shapes.make_shapes(6, seed=0)
    ids = TOKENIZER.batch(data.captions, 16)
    with torch.no_grad():
        assert torch.equal(model(data.images, ids), model.lm(ids))
    model.loss(data.images, ids).backward()
    assert all(model.xattn[i].attn_gate.grad.abs() > 0 for i in range(2))


def test_captioner_training_opens_the_gates_and_makes_pictures_matter() -> None:
    model = tiny_captioner()
    data = shapes.make_shapes(256, seed=0)
    ids = TOKENIZER.batch(data.captions, 16)
    visual = torch.cat([model.visual_tokens(x) for x in data.images.split(128)])
    train_captioner(model, visual, ids, steps=30, batch_size=64, lr=1e-2, progress=False)
    assert all(abs(g) > 0 for g in model.gates().values())
    with torch.no_grad():
        assert not torch.allclose(model(data.images[:4], ids[:4]), model.lm(ids[:4]))
    captions = model.generate(data.images[:3])
    assert len(captions) == 3 and all(isinstance(c, str) for c in captions)


def test_score_captions_counts_attributes_and_bleu() -> None:
    rows = torch.tensor([[0, 0, 0, 0], [1, 2, 1, 3]])
    perfect = score_captions([shapes.caption(r.tolist()) for r in rows], rows)
    assert perfect["all"] == 1.0 and perfect["bleu"] == pytest.approx(1.0)
    half = score_captions(["a small red circle in the top left", "a large red square"], rows)
    assert half["shape"] == 1.0 and half["colour"] == 0.5 and half["position"] == 0.5
    assert half["all"] == 0.5 and half["contradicts"] == 0.5


def test_unet_with_context_starts_as_the_plain_unet_and_masks_padding() -> None:
    torch.manual_seed(0)
    net = UNet((4, 8, 8), channels=(16, 32), emb_dim=16, seed=0, context_dim=12)
    plain = UNet((4, 8, 8), channels=(16, 32), emb_dim=16, seed=0)
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if "attn" not in k})
    x, t = torch.randn(2, 4, 8, 8), torch.tensor([3, 500])
    ctx, mask = torch.randn(2, 5, 12), torch.tensor([[True] * 5, [True, True, False, False,
                                                                  False]])
    torch.testing.assert_close(net(x, t, context=ctx, context_mask=mask), plain(x, t))
    layers = [m for m in net.modules() if isinstance(m, SpatialCrossAttention)]
    assert len(layers) == 5  # two resolutions down and up, and the middle
    for layer in layers:  # open the zero-initialised output projections
        torch.nn.init.normal_(layer.attn.proj.weight, std=0.1)
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    a = net(x, t, context=ctx, context_mask=mask)
    changed = ctx.clone()
    changed[1, 2:] = 100.0  # only padding of the second row changes
    b = net(x, t, context=changed, context_mask=mask)
    torch.testing.assert_close(a, b)
    changed[0, 0] += 1.0
    assert not torch.allclose(net(x, t, context=changed, context_mask=mask)[0], a[0])
    with pytest.raises(ValueError, match="context"):
        net(x, t)
    with pytest.raises(ValueError, match="context"):
        plain(x, t, context=ctx)


def tiny_text_to_image() -> TextToImage:
    text = TextEncoder(TOKENIZER.vocab_size, width=16, layers=1, heads=2, context=16)
    denoiser = TextConditionedDenoiser(text, TOKENIZER, (4, 8, 8), (16, 32), emb_dim=16, seed=0)
    for layer in denoiser.modules():
        if isinstance(layer, SpatialCrossAttention):
            torch.nn.init.normal_(layer.attn.proj.weight, std=0.2)
    torch.nn.init.normal_(denoiser.unet.conv_out.weight, std=0.1)
    return TextToImage(ImageAutoencoder(channels=(8, 8), seed=0), denoiser,
                       NoiseSchedule.cosine(50), scale=1.0)


def test_samplers_take_captions_through_the_condition_protocol() -> None:
    t2i = tiny_text_to_image()
    d = t2i.denoiser
    ids = d.condition("a red circle", 3)
    assert ids.shape == (3, 16) and torch.equal(ids[0], ids[2])
    assert torch.equal(d.condition(["a red circle"] * 3, 3), ids)
    null = d.null_condition(ids)
    assert TOKENIZER.decode(null[0].tolist()) == "" and null.shape == ids.shape
    with pytest.raises(ValueError, match="one caption or 3"):
        d.condition(["a", "b"], 3)
    pictures = t2i.generate(["a red circle", "a blue square"], guidance_scale=3.0, steps=4)
    assert pictures.shape == (2, 3, 32, 32) and pictures.abs().max() <= 1
    # w = 0 is the unconditional model: the caption does not matter
    a = sample(d, DDIM(t2i.schedule), 2, steps=3, labels="a red circle", guidance_scale=0.0,
               seed=1, progress=False)
    b = sample(d, DDIM(t2i.schedule), 2, steps=3, labels=None, seed=1, progress=False)
    torch.testing.assert_close(a, b)
    c = sample(d, DDIM(t2i.schedule), 2, steps=3, labels="a red circle", guidance_scale=1.0,
               seed=1, progress=False)
    assert not torch.allclose(a, c)


def test_label_dropout_replaces_whole_captions_with_the_empty_one() -> None:
    t2i = tiny_text_to_image()
    seen = []
    real_forward = t2i.denoiser.forward

    def spy(x, t, labels=None):
        seen.append(labels)
        return real_forward(x, t, labels)

    t2i.denoiser.forward = spy
    ids = t2i.denoiser.condition(["a large green cross"] * 200, 200)
    z = torch.randn(200, 4, 8, 8)
    g = torch.Generator().manual_seed(0)
    diffusion_loss(t2i.denoiser, t2i.schedule, z, ids, p_uncond=0.3, generator=g)
    used = seen[-1]
    dropped = (used == t2i.denoiser.null_condition(ids)).all(dim=1)
    kept = (used == ids).all(dim=1)
    assert bool((dropped | kept).all()) and 0.2 < dropped.double().mean() < 0.4


def test_autoencoder_learns_to_reconstruct() -> None:
    data = shapes.make_shapes(256, seed=0)
    ae = ImageAutoencoder(channels=(8, 16), seed=0)
    history = train_autoencoder(ae, data.images, steps=60, batch_size=32, progress=False)
    assert history.smoothed("loss", 10) < 0.5 * history["loss"][0]
    mu, logvar = ae.encode(data.images[:2])
    assert mu.shape == logvar.shape == (2, 4, 8, 8)


def test_attention_maps_are_kept_only_while_asked() -> None:
    t2i = tiny_text_to_image()
    layers = keep_attention_maps(t2i.denoiser)
    t2i.generate("a red circle", steps=2)
    assert all(layer.last_weights is not None for layer in layers)
    keep_attention_maps(t2i.denoiser, keep=False)
    assert all(layer.last_weights is None and not layer.keep_weights for layer in layers)


def test_text_padding_is_masked_in_the_denoiser() -> None:
    t2i = tiny_text_to_image()
    ids = t2i.denoiser.condition("a red circle", 1)
    assert (ids == PAD).sum() > 0
    z, t = torch.randn(1, 4, 8, 8), torch.tensor([10])
    other = ids.clone()
    other[ids == PAD] = TOKENIZER.index["blue"]  # change only what is masked out
    with torch.no_grad():
        a = t2i.denoiser.unet(z, t, context=t2i.denoiser.text(ids), context_mask=ids != PAD)
        b = t2i.denoiser.unet(z, t, context=t2i.denoiser.text(other), context_mask=ids != PAD)
    torch.testing.assert_close(a, b)


# --- audio -------------------------------------------------------------------------------

def test_synthesizer_puts_the_energy_at_the_harmonics_it_was_given() -> None:
    rows = torch.tensor([[1, 0, 1, 1], [0, 3, 0, 2]])  # large red square top right; circle
    controls = audio.sonify(rows)
    assert controls["pulses"].tolist() == [2, 1]
    assert controls["pan"].tolist() == pytest.approx([0.8, 0.2])
    waves = audio.synthesize(controls, duration=1.0)
    assert waves.shape == (2, 2, audio.SAMPLE_RATE)
    assert waves[0, 1].abs().sum() > 3 * waves[0, 0].abs().sum()  # panned right
    # a square-wave timbre at 200 Hz, one pulse, one second: 1 Hz bins on the partials
    square = {**audio.sonify(rows[:1]), "f0": torch.tensor([200.0]),
              "pulses": torch.tensor([1])}
    spectrum = torch.fft.rfft(audio.synthesize(square, duration=1.0)[0].sum(0).double()).abs()

    def amplitude(hz: int) -> float:  # the envelope spreads each line over a few bins
        return spectrum[hz - 6:hz + 7].square().sum().sqrt().item()

    for k in (3, 5, 7):  # odd harmonics at 1/k
        assert amplitude(200 * k) / amplitude(200) == pytest.approx(1 / k, rel=0.02)
    for k in (2, 4, 6):
        assert amplitude(200 * k) < 1e-3 * amplitude(200)
    circle = torch.fft.rfft(waves[1].sum(0).double()).abs()
    assert circle.argmax().item() == round(audio.NOTES["yellow"])
    # harmonics above the Nyquist frequency (4 kHz) are dropped, not aliased
    high = {**square, "f0": torch.tensor([1500.0]), "harmonics": audio.timbre("cross")[None]}
    spectrum = torch.fft.rfft(audio.synthesize(high, duration=1.0)[0].sum(0).double()).abs()
    assert spectrum[2900:3100].max() > 0.05 * spectrum.max()  # 2nd harmonic, 3 kHz: kept
    assert spectrum[:1400].max() < 1e-3 * spectrum.max()  # 3 x 1500 = 4.5 kHz would alias to 3.5


@pytest.mark.parametrize("f0", [65.0, 220.0, 261.63, 523.25, 987.77, 1150.0])
def test_detect_pitch_of_pure_and_harmonic_tones(f0: float) -> None:
    t = torch.arange(4000, dtype=torch.float64) / 8000
    pure = torch.sin(2 * math.pi * f0 * t)
    assert audio.detect_pitch(pure) == pytest.approx(f0, rel=2e-3)
    bright = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 4) if k * f0 < 4000)
    # a parabola through three lags is a little less exact when the period is 8 samples
    assert audio.detect_pitch(bright) == pytest.approx(f0, rel=5e-3)


def test_detect_pitch_hears_a_missing_fundamental_and_refuses_silence() -> None:
    t = torch.arange(4000, dtype=torch.float64) / 8000
    partials = sum(torch.sin(2 * math.pi * k * 200 * t) for k in (2, 3, 4))  # no 200 Hz partial
    assert audio.detect_pitch(partials) == pytest.approx(200, rel=2e-3)
    with pytest.raises(ValueError, match="silent"):
        audio.detect_pitch(torch.zeros(4000))
    with pytest.raises(ValueError, match="samples"):
        audio.detect_pitch(torch.ones(100))
    assert audio.cents(440 * 2 ** (1 / 12), 440).item() == pytest.approx(100)


def test_sound_generator_learns_the_sonification() -> None:
    data = shapes.make_shapes(512, seed=0, combos="all")
    codes = torch.cat([F.one_hot(data.attributes[:, j], len(v))
                       for j, v in enumerate(shapes.ATTRIBUTES.values())], 1).float()
    model = audio.SoundGenerator(embed_dim=codes.shape[1], seed=0)
    audio.train_sound_generator(model, codes, data.attributes, steps=300, progress=False)
    controls = model.controls(codes[:40])
    want = audio.sonify(data.attributes[:40])
    assert audio.cents(controls["f0"], want["f0"]).abs().max() < 50
    assert torch.equal(controls["pulses"], want["pulses"])
    waves = model.generate(codes[:5])
    pitches = torch.tensor([audio.detect_pitch(w.sum(0)) for w in waves])
    assert audio.cents(pitches, want["f0"][:5]).abs().max() < 50


def test_linear_prior_recovers_a_linear_map() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 6, generator=g, dtype=torch.float64)
    t = torch.randn(300, 6, generator=g, dtype=torch.float64)
    got = audio.fit_linear_prior(t, t @ w, ridge=1e-9)
    torch.testing.assert_close(got.double(), w, atol=1e-4, rtol=0)
