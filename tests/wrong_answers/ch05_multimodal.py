"""Wrong answers to Chapter 5's exercises, keyed by the answer cell's grade_id."""


def _clip(logits: str = "logit_scale * image_features @ text_features.T",
          loss: str = "(F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2") -> str:
    """Exercise 1's function with the logits and the returned loss written as given (by
    default the right ones), after the right input check."""
    return ("\ndef clip_loss(image_features, text_features, logit_scale):\n"
            "    if image_features.ndim != 2 or image_features.shape != text_features.shape:\n"
            "        raise ValueError(\"shapes\")\n"
            f"    logits = {logits}\n"
            "    y = torch.arange(len(logits))\n"
            f"    return {loss}\n")


def _gated(**changes: str) -> str:
    """Exercise 5's function with the lines named in ``changes`` replaced (by default the right
    ones), so that each wrong answer differs from the right one where it says."""
    lines = {
        "split": "        return t.reshape(B, t.shape[1], n_head, dim // n_head).transpose(1, 2)\n",
        "kv": "    k, v = F.linear(context, p['attn.kv.weight'], p['attn.kv.bias'])"
              ".chunk(2, dim=-1)\n",
        "attend": "    out, _ = cross_attend(split(q), split(k), split(v), context_mask)\n",
        "join": "    out = out.transpose(1, 2).reshape(B, T, dim)\n",
        "attn_step": "    x = x + torch.tanh(p['attn_gate']) * F.linear(out, "
                     "p['attn.proj.weight'], p['attn.proj.bias'])\n",
        "ln_ff": "    h = F.layer_norm(x, (dim,), p['ln_ff.weight'], p['ln_ff.bias'])\n",
        "ff_step": "    return x + torch.tanh(p['ff_gate']) * F.linear(F.gelu(F.linear(h, "
                   "p['ff.0.weight'], p['ff.0.bias'])), p['ff.2.weight'], p['ff.2.bias'])\n",
    }
    for key, line in changes.items():
        assert key in lines, key
        lines[key] = line.strip("\n") + "\n"
    return ("\ndef gated_cross_attention(x, context, context_mask, params, n_head):\n"
            "    p, (B, T, dim) = params, x.shape\n\n"
            "    def split(t):\n" + lines["split"] + "\n"
            "    h = F.layer_norm(x, (dim,), p['ln_attn.weight'], p['ln_attn.bias'])\n"
            "    q = F.linear(h, p['attn.q.weight'], p['attn.q.bias'])\n"
            + lines["kv"] + lines["attend"] + lines["join"] + lines["attn_step"]
            + lines["ln_ff"] + lines["ff_step"])


# Exercise 6: the normalised autocorrelation of the right answer, and its choice of the first
# peak close to the best one (wrong answers below differ from it in what follows)
_AUTOCORRELATION = '''
def detect_pitch(wave, sample_rate):
    x = wave.double() - wave.double().mean()
    lo, hi = int(sample_rate / 1200), int(sample_rate / 60) + 2
    n = len(x) - hi
    r = torch.stack([(x[:n] * x[lag:lag + n]).sum() / (x[:n].norm() * x[lag:lag + n].norm())
                     for lag in range(lo - 1, hi + 1)])'''
_FIRST_GOOD_PEAK = '''
    best = r[1:-1].max()
    for i in range(1, len(r) - 1):
        if r[i] >= r[i - 1] and r[i] >= r[i + 1] and r[i] >= 0.9 * best:
            break'''


WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_clip_loss": {
        "one direction only (images -> texts)": _clip(loss="F.cross_entropy(logits, y)"),
        "temperature applied twice (exp of the already exponentiated scale)": _clip(
            "torch.exp(torch.as_tensor(logit_scale)) * image_features @ text_features.T"),
        "divides by the scale (treats it as a temperature)": _clip(
            "image_features @ text_features.T / logit_scale"),
        "summed over the pairs instead of averaged": _clip(
            loss="(F.cross_entropy(logits, y, reduction='sum')"
                 " + F.cross_entropy(logits.T, y, reduction='sum')) / 2"),
        "softmax over the wrong axis in both terms": _clip(
            loss="-torch.log_softmax(logits, dim=0).diagonal().mean()"),
        "returns a Python float": _clip(
            loss="((F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2).item()"),
        "detached from the features (cannot be back-propagated)": _clip(
            "logit_scale * image_features.detach() @ text_features.detach().T"),
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
        "no tanh on the gates": _gated(
            attn_step="    x = x + p['attn_gate'] * F.linear(out, p['attn.proj.weight'], "
                      "p['attn.proj.bias'])",
            ff_step="    return x + p['ff_gate'] * F.linear(F.gelu(F.linear(h, p['ff.0.weight'], "
                    "p['ff.0.bias'])), p['ff.2.weight'], p['ff.2.bias'])"),
        "sigmoid gates (0.5 when closed)": _gated(
            attn_step="    x = x + torch.sigmoid(p['attn_gate']) * F.linear(out, "
                      "p['attn.proj.weight'], p['attn.proj.bias'])"),
        "gate on the whole residual sum": _gated(
            attn_step="    x = torch.tanh(p['attn_gate']) * (x + F.linear(out, "
                      "p['attn.proj.weight'], p['attn.proj.bias']))"),
        "parallel branches: the feed-forward reads the input": _gated(
            attn_step="    a = torch.tanh(p['attn_gate']) * F.linear(out, p['attn.proj.weight'], "
                      "p['attn.proj.bias'])",
            ff_step="    return x + a + torch.tanh(p['ff_gate']) * F.linear(F.gelu(F.linear(h, "
                    "p['ff.0.weight'], p['ff.0.bias'])), p['ff.2.weight'], p['ff.2.bias'])"),
        "keys and values swapped": _gated(
            kv="    v, k = F.linear(context, p['attn.kv.weight'], p['attn.kv.bias'])"
               ".chunk(2, dim=-1)"),
        "heads split without the transpose": _gated(
            split="        return t.reshape(B, n_head, t.shape[1], dim // n_head)"),
        "heads joined without transposing back": _gated(
            join="    out = out.reshape(B, T, dim)"),
        "the mask is not passed on": _gated(
            attend="    out, _ = cross_attend(split(q), split(k), split(v), None)"),
        "no layer norm before the feed-forward": _gated(ln_ff="    h = x"),
        "the gate read as a number (.item(): the gates no longer learn)": _gated(
            attn_step="    x = x + math.tanh(p['attn_gate'].item()) * F.linear(out, "
                      "p['attn.proj.weight'], p['attn.proj.bias'])",
            ff_step="    return x + math.tanh(p['ff_gate'].item()) * F.linear(F.gelu(F.linear(h, "
                    "p['ff.0.weight'], p['ff.0.bias'])), p['ff.2.weight'], p['ff.2.bias'])"),
        "calls the package": '''
from genai_course.multimodal.attention import gated_cross_attention as _package
def gated_cross_attention(x, context, context_mask, params, n_head):
    return _package(x, context, context_mask, params, n_head)
''',
        "runs the package's block on the parameters": '''
def gated_cross_attention(x, context, context_mask, params, n_head):
    from genai_course.multimodal.attention import GatedCrossAttentionBlock
    block = GatedCrossAttentionBlock(x.shape[-1], context.shape[-1], n_head).to(x.dtype)
    return torch.func.functional_call(block, params, (x, context, context_mask))
''',
    },
    "ex6_detect_pitch": {
        "the largest peak of the spectrum": '''
def detect_pitch(wave, sample_rate):
    n = 8 * len(wave)
    spectrum = torch.fft.rfft(wave.double(), n=n).abs()
    return float(spectrum.argmax().item() * sample_rate / n)
''',
        "the best lag, not the first good one (octave errors)": _AUTOCORRELATION + '''
    i = int(r[1:-1].argmax()) + 1
    a, b, c = r[i - 1].item(), r[i].item(), r[i + 1].item()
    return float(sample_rate / (lo - 1 + i + 0.5 * (a - c) / (a - 2 * b + c)))
''',
        "integer lag (no refinement between samples)": _AUTOCORRELATION + _FIRST_GOOD_PEAK + '''
    return float(sample_rate / (lo - 1 + i))
''',
        "zero crossings": '''
def detect_pitch(wave, sample_rate):
    x = wave.double() - wave.double().mean()
    crossings = ((x[:-1] < 0) & (x[1:] >= 0)).sum().item()
    return float(crossings * sample_rate / len(x))
''',
        "returns the period in seconds": _AUTOCORRELATION + _FIRST_GOOD_PEAK + '''
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
