"""Alternative correct answers to Chapter 5's exercises; every one must earn full points."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_clip_loss": {
        "F.cross_entropy on the logits and their transpose": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.dim() != 2 or image_features.size() != text_features.size():
        raise ValueError("need two (n, d) tensors of the same shape")
    logits = logit_scale * (image_features @ text_features.t())
    labels = torch.arange(logits.shape[0])
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
''',
        "logsumexp written out": '''
def clip_loss(image_features, text_features, logit_scale):
    if len(image_features.shape) != 2 or tuple(image_features.shape) != tuple(text_features.shape):
        raise ValueError("shape mismatch")
    logits = torch.einsum("id,jd->ij", image_features, text_features) * logit_scale
    diag = torch.diagonal(logits)
    rows = torch.logsumexp(logits, dim=1) - diag
    cols = torch.logsumexp(logits, dim=0) - diag
    return torch.cat([rows, cols]).mean()
''',
        "a loop over the pairs": '''
def clip_loss(image_features, text_features, logit_scale):
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("image_features and text_features must have the same (n, d) shape")
    n = image_features.shape[0]
    total = 0
    for i in range(n):
        row = logit_scale * (text_features @ image_features[i])   # picture i against every caption
        col = logit_scale * (image_features @ text_features[i])   # caption i against every picture
        total = total + (torch.logsumexp(row, 0) - row[i]) + (torch.logsumexp(col, 0) - col[i])
    return total / (2 * n)
''',
    },
    "ex2_zero_shot": {
        "F.normalize and einsum": '''
def zero_shot_predict(image_features, prompt_features):
    classes = F.normalize(prompt_features.sum(dim=1), dim=-1)  # the sum has the mean's direction
    return torch.einsum("nd,kd->nk", image_features, classes).argmax(dim=-1)
''',
        "a loop over the classes with cosine similarity": '''
def zero_shot_predict(image_features, prompt_features):
    sims = []
    for prompts in prompt_features:
        centre = prompts.mean(0)
        sims.append(F.cosine_similarity(image_features, centre[None, :], dim=1))
    return torch.stack(sims, dim=1).argmax(dim=1)
''',
        "NumPy": '''
def zero_shot_predict(image_features, prompt_features):
    p = prompt_features.detach().cpu().numpy().mean(axis=1)
    p = p / np.linalg.norm(p, axis=1, keepdims=True)
    return torch.from_numpy(np.argmax(image_features.detach().cpu().numpy() @ p.T, axis=1))
''',
    },
    "ex3_recall_at_k": {
        "compare with the k-th largest value": '''
def recall_at_k(similarity, k):
    if k < 1 or k > similarity.shape[1]:
        raise ValueError("k out of range")
    kth = similarity.topk(k, dim=1).values[:, -1]
    match = similarity.diagonal()
    return float((match >= kth).float().mean())
''',
        "a loop": '''
def recall_at_k(similarity, k):
    n_queries, n_items = similarity.shape
    if not isinstance(k, int) or k < 1 or k > n_items:
        raise ValueError("k must be between 1 and the number of items")
    hits = 0
    for i in range(n_queries):
        above = sum(1 for j in range(n_items) if similarity[i, j] > similarity[i, i])
        hits += above < k
    return hits / n_queries
''',
        "NumPy ranks": '''
def recall_at_k(similarity, k):
    s = similarity.detach().cpu().numpy()
    if not 1 <= k <= s.shape[1]:
        raise ValueError("bad k")
    idx = np.arange(s.shape[0])
    rank = (s > s[idx, idx][:, None]).sum(axis=1)
    return float(np.mean(rank < k))
''',
    },
    "ex4_cross_attention": {
        "einsum with an additive mask": '''
def cross_attend(q, k, v, key_mask=None):
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) * q.shape[-1] ** -0.5
    if key_mask is not None:
        bias = torch.zeros(key_mask.shape, dtype=scores.dtype).masked_fill(~key_mask, float("-inf"))
        scores = scores + bias[:, None, None, :]
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("bhqk,bhkd->bhqd", weights, v), weights
''',
        "PyTorch's fused attention for the output": '''
def cross_attend(q, k, v, key_mask=None):
    mask = None if key_mask is None else key_mask[:, None, None, :]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(k.shape[-1])
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    return out, scores.softmax(-1)
''',
        "a large negative number and explicit exponentials": '''
def cross_attend(q, k, v, key_mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask.unsqueeze(1).unsqueeze(2), -1e30)
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    weights = e / e.sum(dim=-1, keepdim=True)
    return torch.matmul(weights, v), weights
''',
    },
    "ex5_gated_xattn": {
        "einsum projections and PyTorch's fused attention": '''
def gated_cross_attention(x, context, context_mask, params, n_head):
    B, T, dim = x.shape
    L, d = context.shape[1], dim // n_head
    h = F.layer_norm(x, [dim], weight=params["ln_attn.weight"], bias=params["ln_attn.bias"])
    q = torch.einsum("btc,oc->bto", h, params["attn.q.weight"]) + params["attn.q.bias"]
    kv = torch.einsum("blc,oc->blo", context, params["attn.kv.weight"]) + params["attn.kv.bias"]
    k, v = kv[..., :dim], kv[..., dim:]
    q = q.view(B, T, n_head, d).permute(0, 2, 1, 3)
    k = k.reshape(B, L, n_head, d).permute(0, 2, 1, 3)
    v = v.reshape(B, L, n_head, d).permute(0, 2, 1, 3)
    mask = None if context_mask is None else context_mask[:, None, None, :]
    heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    joined = heads.permute(0, 2, 1, 3).reshape(B, T, dim)
    attended = joined @ params["attn.proj.weight"].T + params["attn.proj.bias"]
    x = x + params["attn_gate"].tanh() * attended
    h = F.layer_norm(x, [dim], weight=params["ln_ff.weight"], bias=params["ln_ff.bias"])
    h = h @ params["ff.0.weight"].T + params["ff.0.bias"]
    h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))  # GELU written out
    return x + params["ff_gate"].tanh() * (h @ params["ff.2.weight"].T + params["ff.2.bias"])
''',
        "the package's layers run on the parameters (torch.func.functional_call)": '''
from torch.func import functional_call

from genai_course.llm.moe import expert_mlp
from genai_course.multimodal.attention import CrossAttention


def gated_cross_attention(x, context, context_mask, params, n_head):
    dim = x.shape[-1]

    def run(module, prefix, *args):  # the module's forward with the tensors params[prefix...]
        own = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
        return functional_call(module, own, args)

    attn = CrossAttention(dim, context.shape[-1], n_head)
    attn.attend = cross_attend
    norm, ff = torch.nn.LayerNorm(dim), expert_mlp(dim, 4 * dim)
    steps = [(params["attn_gate"], lambda h: run(attn, "attn.", run(norm, "ln_attn.", h),
                                                 context, context_mask)),
             (params["ff_gate"], lambda h: run(ff, "ff.", run(norm, "ln_ff.", h)))]
    for gate, branch in steps:
        x = x + torch.tanh(gate) * branch(x)
    return x
''',
    },
    "ex6_detect_pitch": {
        "autocorrelation through the FFT (Wiener-Khinchin)": '''
def detect_pitch(wave, sample_rate):
    x = (wave - wave.mean()).double()
    n = len(x)
    spec = torch.fft.rfft(x, n=2 * n)
    ac = torch.fft.irfft(spec * spec.conj(), n=2 * n)[:n]
    ac = ac / (ac[0] * (n - torch.arange(n)) / n)  # unbiased, normalised
    lo, hi = int(sample_rate / 1200), int(sample_rate / 60) + 1
    seg = ac[lo - 1:hi + 2]
    best = seg[1:-1].max()
    for i in range(1, len(seg) - 1):
        if seg[i] >= seg[i - 1] and seg[i] >= seg[i + 1] and seg[i] >= 0.9 * best:
            break
    a, b, c = seg[i - 1].item(), seg[i].item(), seg[i + 1].item()
    return float(sample_rate / (lo - 1 + i + 0.5 * (a - c) / (a - 2 * b + c)))
''',
        "YIN's cumulative mean normalised difference": '''
def detect_pitch(wave, sample_rate):
    x = wave.double().numpy()
    max_lag = int(sample_rate / 60) + 2
    w = len(x) - max_lag
    d = np.array([np.sum((x[:w] - x[tau:tau + w]) ** 2) for tau in range(max_lag + 1)])
    cmnd = np.ones_like(d)
    cmnd[1:] = d[1:] * np.arange(1, len(d)) / np.maximum(np.cumsum(d[1:]), 1e-12)
    tau = int(sample_rate / 1200)
    while tau < max_lag and cmnd[tau] > 0.1:
        tau += 1
    while tau + 1 < max_lag and cmnd[tau + 1] < cmnd[tau]:
        tau += 1
    a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c != 0 else 0.0
    return float(sample_rate / (tau + shift))
''',
        "NumPy correlate": '''
def detect_pitch(wave, sample_rate):
    x = wave.detach().double().numpy()
    x = x - x.mean()
    full = np.correlate(x, x, mode="full")[len(x) - 1:]
    full = full / (full[0] * (len(x) - np.arange(len(x))) / len(x))
    lo, hi = int(sample_rate / 1200), int(sample_rate / 60) + 1
    lags = np.arange(lo, hi)
    r = full[lo - 1:hi + 1]
    inner = r[1:-1]
    ok = (inner >= r[:-2]) & (inner >= r[2:]) & (inner >= 0.9 * inner.max())
    i = int(np.argmax(ok)) + 1
    a, b, c = r[i - 1], r[i], r[i + 1]
    return float(sample_rate / (lags[i - 1] + 0.5 * (a - c) / (a - 2 * b + c)))
''',
    },
}
