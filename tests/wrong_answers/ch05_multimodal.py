"""Wrong answers to Chapter 5's exercises, keyed by the answer cell's grade_id."""


def _gated_block(gates: str | None = None, forward: str | None = None) -> str:
    """Exercise 5's class with the given lines creating the gates and forward's body (by
    default the right ones), so that each wrong answer differs from the right one where it
    says."""
    gates = gates.lstrip("\n") if gates else (
        "        self.attn_gate, self.ff_gate = nn.Parameter(torch.zeros(())), "
        "nn.Parameter(torch.zeros(()))\n")
    forward = forward.lstrip("\n") if forward else (
        "        x = x + torch.tanh(self.attn_gate) * self.attn(self.ln_attn(x), context, "
        "context_mask)\n"
        "        return x + torch.tanh(self.ff_gate) * self.ff(self.ln_ff(x))\n")
    return ("\nclass GatedCrossAttentionBlock(nn.Module):\n"
            "    def __init__(self, dim, context_dim, n_head):\n"
            "        super().__init__()\n"
            "        self.ln_attn, self.attn = nn.LayerNorm(dim), CrossAttention(dim, context_dim, "
            "n_head)\n"
            "        self.ln_ff, self.ff = nn.LayerNorm(dim), expert_mlp(dim, 4 * dim)\n"
            + gates + "\n    def forward(self, x, context, context_mask=None):\n" + forward)


WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_clip_loss": {
        "one direction only (images -> texts)": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("shapes")
    logits = logit_scale * image_features @ text_features.T
    return F.cross_entropy(logits, torch.arange(len(logits)))
''',
        "temperature applied twice (exp of the already exponentiated scale)": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("shapes")
    logits = torch.exp(torch.as_tensor(logit_scale)) * image_features @ text_features.T
    y = torch.arange(len(logits))
    return (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2
''',
        "divides by the scale (treats it as a temperature)": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("shapes")
    logits = image_features @ text_features.T / logit_scale
    y = torch.arange(len(logits))
    return (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2
''',
        "summed over the pairs instead of averaged": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("shapes")
    logits = logit_scale * image_features @ text_features.T
    y = torch.arange(len(logits))
    rows = F.cross_entropy(logits, y, reduction="sum")
    return (rows + F.cross_entropy(logits.T, y, reduction="sum")) / 2
''',
        "softmax over the wrong axis in both terms": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("shapes")
    logits = logit_scale * image_features @ text_features.T
    return -torch.log_softmax(logits, dim=0).diagonal().mean()
''',
        "returns a Python float": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("shapes")
    logits = logit_scale * image_features @ text_features.T
    y = torch.arange(len(logits))
    return ((F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2).item()
''',
        "calls the package": '''
from genai_course.multimodal.clip import clip_loss as _package_loss
def clip_loss(image_features, text_features, logit_scale):
    return _package_loss(image_features, text_features, logit_scale)
''',
    },
    "ex2_zero_shot": {
        "no re-normalisation of the averaged prompts": '''
def zero_shot_predict(image_features, prompt_features):
    return (image_features @ prompt_features.mean(dim=1).T).argmax(dim=1)
''',
        "argmax over the wrong axis": '''
def zero_shot_predict(image_features, prompt_features):
    classes = F.normalize(prompt_features.mean(dim=1), dim=-1)
    return (image_features @ classes.T).argmax(dim=0)
''',
        "majority vote of the single prompts": '''
def zero_shot_predict(image_features, prompt_features):
    k, m, d = prompt_features.shape
    votes = (image_features @ prompt_features.reshape(k * m, d).T).argmax(dim=1) // m
    return votes
''',
        "the first prompt of each class only (no ensemble)": '''
def zero_shot_predict(image_features, prompt_features):
    return (image_features @ prompt_features[:, 0].T).argmax(dim=1)
''',
        "calls the package": '''
from genai_course.multimodal.retrieval import zero_shot_predict as _package
def zero_shot_predict(image_features, prompt_features):
    return _package(image_features, prompt_features)
''',
    },
    "ex3_recall_at_k": {
        "top-k indices (a tie can push the match out)": '''
def recall_at_k(similarity, k):
    if not 1 <= k <= similarity.shape[1]:
        raise ValueError("k")
    top = similarity.topk(k, dim=1).indices
    return (top == torch.arange(len(similarity))[:, None]).any(dim=1).double().mean().item()
''',
        "ties count against the match (>=)": '''
def recall_at_k(similarity, k):
    if not 1 <= k <= similarity.shape[1]:
        raise ValueError("k")
    match = similarity.diagonal()[:, None]
    rank = (similarity >= match).sum(dim=1)  # the match itself and every tie
    return (rank <= k).double().mean().item()
''',
        "off by one (k + 1 items allowed above)": '''
def recall_at_k(similarity, k):
    if not 1 <= k <= similarity.shape[1]:
        raise ValueError("k")
    match = similarity[torch.arange(len(similarity)), torch.arange(len(similarity))]
    return ((similarity > match[:, None]).sum(dim=1) <= k).double().mean().item()
''',
        "queries along the columns": '''
def recall_at_k(similarity, k):
    if not 1 <= k <= similarity.shape[1]:
        raise ValueError("k")
    n = min(similarity.shape)
    match = similarity[torch.arange(n), torch.arange(n)]
    return ((similarity[:, :n] > match[None, :]).sum(dim=0) < k).double().mean().item()
''',
        "count of hits instead of the share": '''
def recall_at_k(similarity, k):
    if not 1 <= k <= similarity.shape[1]:
        raise ValueError("k")
    match = similarity[torch.arange(len(similarity)), torch.arange(len(similarity))]
    return float(((similarity > match[:, None]).sum(dim=1) < k).sum())
''',
        "calls the package": '''
from genai_course.multimodal.retrieval import recall_at_k as _package
def recall_at_k(similarity, k):
    return _package(similarity, k)
''',
    },
    "ex4_cross_attention": {
        "missing the 1/sqrt(d) scaling": '''
def cross_attend(q, k, v, key_mask=None):
    scores = q @ k.transpose(-2, -1)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
''',
        "softmax over the queries": '''
def cross_attend(q, k, v, key_mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = scores.softmax(dim=-2).nan_to_num(0.0)
    return weights @ v, weights
''',
        "mask ignored": '''
def cross_attend(q, k, v, key_mask=None):
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    return weights @ v, weights
''',
        "mask inverted (attends to the padding only)": '''
def cross_attend(q, k, v, key_mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(key_mask[:, None, None, :], float("-inf"))
    weights = scores.softmax(dim=-1).nan_to_num(0.0)
    return weights @ v, weights
''',
        "masked after the softmax without renormalising": '''
def cross_attend(q, k, v, key_mask=None):
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    if key_mask is not None:
        weights = weights * key_mask[:, None, None, :]
    return weights @ v, weights
''',
        "scaled by d instead of sqrt(d)": '''
def cross_attend(q, k, v, key_mask=None):
    scores = q @ k.transpose(-2, -1) / q.shape[-1]
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
''',
        "calls the package": '''
from genai_course.multimodal.attention import cross_attend as _package
def cross_attend(q, k, v, key_mask=None):
    return _package(q, k, v, key_mask)
''',
    },
    "ex5_gated_xattn": {
        "gates start at 1 (not the identity)": _gated_block(gates='''
        self.attn_gate, self.ff_gate = nn.Parameter(torch.ones(())), nn.Parameter(torch.ones(()))
'''),
        "no tanh on the gates": _gated_block(forward='''
        x = x + self.attn_gate * self.attn(self.ln_attn(x), context, context_mask)
        return x + self.ff_gate * self.ff(self.ln_ff(x))
'''),
        "gate on the whole residual sum": _gated_block(forward='''
        x = torch.tanh(self.attn_gate) * (x + self.attn(self.ln_attn(x), context, context_mask))
        return torch.tanh(self.ff_gate) * (x + self.ff(self.ln_ff(x)))
'''),
        "parallel branches: the feed-forward reads the input": _gated_block(forward='''
        a = torch.tanh(self.attn_gate) * self.attn(self.ln_attn(x), context, context_mask)
        return x + a + torch.tanh(self.ff_gate) * self.ff(self.ln_ff(x))
'''),
        "sigmoid gates (0.5 at initialisation)": _gated_block(forward='''
        x = x + torch.sigmoid(self.attn_gate) * self.attn(self.ln_attn(x), context, context_mask)
        return x + torch.sigmoid(self.ff_gate) * self.ff(self.ln_ff(x))
'''),
        "gates are plain tensors (not trained)": _gated_block(gates='''
        self.register_buffer("attn_gate", torch.zeros(()))
        self.register_buffer("ff_gate", torch.zeros(()))
'''),
        "calls the package": '''
from genai_course.multimodal.attention import GatedCrossAttentionBlock as _Package
class GatedCrossAttentionBlock(_Package):
    pass
''',
    },
    "ex6_detect_pitch": {
        "the largest peak of the spectrum": '''
def detect_pitch(wave, sample_rate):
    n = 8 * len(wave)
    spectrum = torch.fft.rfft(wave.double(), n=n).abs()
    return float(spectrum.argmax().item() * sample_rate / n)
''',
        "the best lag, not the first good one (octave errors)": '''
def detect_pitch(wave, sample_rate):
    x = wave.double() - wave.double().mean()
    lo, hi = int(sample_rate / 1200), int(sample_rate / 60) + 2
    n = len(x) - hi
    r = torch.stack([(x[:n] * x[lag:lag + n]).sum() / (x[:n].norm() * x[lag:lag + n].norm())
                     for lag in range(lo - 1, hi + 1)])
    i = int(r[1:-1].argmax()) + 1
    a, b, c = r[i - 1].item(), r[i].item(), r[i + 1].item()
    return float(sample_rate / (lo - 1 + i + 0.5 * (a - c) / (a - 2 * b + c)))
''',
        "integer lag (no refinement between samples)": '''
def detect_pitch(wave, sample_rate):
    x = wave.double() - wave.double().mean()
    lo, hi = int(sample_rate / 1200), int(sample_rate / 60) + 2
    n = len(x) - hi
    r = torch.stack([(x[:n] * x[lag:lag + n]).sum() / (x[:n].norm() * x[lag:lag + n].norm())
                     for lag in range(lo - 1, hi + 1)])
    best = r[1:-1].max()
    for i in range(1, len(r) - 1):
        if r[i] >= r[i - 1] and r[i] >= r[i + 1] and r[i] >= 0.9 * best:
            break
    return float(sample_rate / (lo - 1 + i))
''',
        "zero crossings": '''
def detect_pitch(wave, sample_rate):
    x = wave.double() - wave.double().mean()
    crossings = ((x[:-1] < 0) & (x[1:] >= 0)).sum().item()
    return float(crossings * sample_rate / len(x))
''',
        "returns the period in seconds": '''
def detect_pitch(wave, sample_rate):
    x = wave.double() - wave.double().mean()
    lo, hi = int(sample_rate / 1200), int(sample_rate / 60) + 2
    n = len(x) - hi
    r = torch.stack([(x[:n] * x[lag:lag + n]).sum() / (x[:n].norm() * x[lag:lag + n].norm())
                     for lag in range(lo - 1, hi + 1)])
    best = r[1:-1].max()
    for i in range(1, len(r) - 1):
        if r[i] >= r[i - 1] and r[i] >= r[i + 1] and r[i] >= 0.9 * best:
            break
    a, b, c = r[i - 1].item(), r[i].item(), r[i + 1].item()
    return float((lo - 1 + i + 0.5 * (a - c) / (a - 2 * b + c)) / sample_rate)
''',
        "calls the package": '''
from genai_course.multimodal.audio import detect_pitch as _package
def detect_pitch(wave, sample_rate):
    return _package(wave, sample_rate)
''',
    },
}
