"""Alternative correct answers to Chapter 3's exercises, keyed by the answer cell's grade_id:
written the ways students write them (Counter, einsum, complex numbers for rotations,
cross_entropy, argsort, an additive mask). Each must earn full points, in-process and
through the real grading path."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_bpe_merge_step": {
        "Counter, sorted by count then pair, and a skip flag": '''
from collections import Counter
def bpe_merge_step(ids, new_id):
    counts = Counter(zip(ids[:-1], ids[1:]))
    pair = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
    merged, skip = [], False
    for i, token in enumerate(ids):
        if skip:
            skip = False
        elif i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            merged.append(new_id)
            skip = True
        else:
            merged.append(token)
    return (pair[0], pair[1]), merged
''',
        "best count first, then the smallest pair among the best": '''
def bpe_merge_step(ids, new_id):
    counts = {}
    for i in range(len(ids) - 1):
        counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
    best = max(counts.values())
    pair = min(p for p, c in counts.items() if c == best)
    out = []
    i = 0
    while i < len(ids):
        if tuple(ids[i:i + 2]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return pair, out
''',
    },
    "ex2_causal_attention": {
        "einsum and a lower-triangular mask": '''
def causal_attention(q, k, v):
    d = q.shape[-1]
    T = q.shape[-2]
    scores = torch.einsum("...id,...jd->...ij", q, k) / d ** 0.5
    keep = torch.tril(torch.ones(T, T, dtype=torch.bool))
    weights = torch.softmax(scores.masked_fill(keep == 0, float("-inf")), dim=-1)
    return torch.einsum("...ij,...jd->...id", weights, v), weights
''',
        "an additive -inf mask": '''
def causal_attention(q, k, v):
    T, d = q.shape[-2:]
    mask = torch.full((T, T), float("-inf"), dtype=q.dtype).triu(diagonal=1)
    weights = (q @ k.transpose(-1, -2) / math.sqrt(d) + mask).softmax(dim=-1)
    return weights @ v, weights
''',
    },
    "ex3_split_heads": {
        "chunk and stack, unbind and cat": '''
def split_heads(x, n_head):
    return torch.stack(x.chunk(n_head, dim=-1), dim=1)


def merge_heads(x):
    return torch.cat(x.unbind(dim=1), dim=-1)
''',
        "view and permute, contiguous before the view back": '''
def split_heads(x, n_head):
    B, T, C = x.size()
    return x.view(B, T, n_head, C // n_head).permute(0, 2, 1, 3)


def merge_heads(x):
    B, H, T, D = x.size()
    return x.permute(0, 2, 1, 3).contiguous().view(B, T, H * D)
''',
    },
    "ex4_rope": {
        "complex numbers": '''
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.outer(positions.double(), theta)
    pairs = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    rotated = pairs * torch.polar(torch.ones_like(angles), angles)
    return torch.view_as_real(rotated).reshape(x.shape).to(x.dtype)
''',
        "stack the rotated halves": '''
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=torch.float64)
    angle = positions.to(torch.float64).unsqueeze(-1) * base ** (-2 * i / d)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    a, b = x[..., ::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
''',
        "a loop over pairs, angles in float32 (the hidden test's tolerance allows it)": '''
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    out = x.clone()
    for i in range(d // 2):
        angle = positions.float() * base ** (-2 * i / d)
        c, s = torch.cos(angle), torch.sin(angle)
        out[..., 2 * i] = x[..., 2 * i] * c - x[..., 2 * i + 1] * s
        out[..., 2 * i + 1] = x[..., 2 * i] * s + x[..., 2 * i + 1] * c
    return out
''',
    },
    "ex5_transformer_block": {
        "LayerNorm by hand, matrix products with .T, heads reshaped inline": '''
def _norm(t, w, b):
    mean = t.mean(-1, keepdim=True)
    var = ((t - mean) ** 2).mean(-1, keepdim=True)
    return (t - mean) / torch.sqrt(var + 1e-5) * w + b


def block_qkv(x, params, n_head):
    B, T, C = x.shape
    qkv = _norm(x, params["ln1_weight"], params["ln1_bias"]) @ params["qkv_weight"].T
    qkv = qkv + params["qkv_bias"]
    return tuple(t.reshape(B, T, n_head, C // n_head).transpose(1, 2) for t in qkv.chunk(3, dim=-1))


def block_output(x, heads, params):
    B, H, T, D = heads.shape
    merged = heads.transpose(1, 2).reshape(B, T, H * D)
    x = x + merged @ params["proj_weight"].T + params["proj_bias"]
    hidden = _norm(x, params["ln2_weight"], params["ln2_bias"]) @ params["fc_weight"].T
    hidden = hidden + params["fc_bias"]
    hidden = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
    return x + hidden @ params["out_weight"].T + params["out_bias"]
''',
        "torch.nn layers loaded with the tensors": '''
def _layer_norm(params, name, C, dtype):
    norm = torch.nn.LayerNorm(C).to(dtype)
    with torch.no_grad():
        norm.weight.copy_(params[f"{name}_weight"])
        norm.bias.copy_(params[f"{name}_bias"])
    return norm


def block_qkv(x, params, n_head):
    C = x.shape[-1]
    h = _layer_norm(params, "ln1", C, x.dtype)(x)
    qkv = torch.addmm(params["qkv_bias"], h.flatten(0, 1), params["qkv_weight"].T)
    q, k, v = qkv.view(*x.shape[:2], 3 * C).split(C, dim=-1)
    return split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)


def block_output(x, heads, params):
    C = x.shape[-1]
    x = x + F.linear(merge_heads(heads), params["proj_weight"], params["proj_bias"])
    h = torch.nn.GELU()(F.linear(_layer_norm(params, "ln2", C, x.dtype)(x), params["fc_weight"],
                                 params["fc_bias"]))
    return x + F.linear(h, params["out_weight"], params["out_bias"])
''',
    },
    "ex6_gpt_parameter_count": {
        "the closed form 12 L d^2 + 13 L d + (V + T + 2) d": '''
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    d, L = n_embd, n_layer
    return 12 * L * d * d + 13 * L * d + (vocab_size + block_size + 2) * d
''',
        "a list of (weights, biases) shapes": '''
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    d = n_embd
    linear = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
    block = 2 * (2 * d) + linear(d, 3 * d) + linear(d, d) + linear(d, 4 * d) + linear(4 * d, d)
    parts = [vocab_size * d, block_size * d, *([block] * n_layer), 2 * d]
    return int(sum(parts))
''',
    },
    "ex7_top_p_filter": {
        "inverse permutation with argsort": '''
def top_p_filter(logits, p):
    probs = logits.softmax(dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs
    drop_sorted = before >= p
    drop = drop_sorted.gather(-1, order.argsort(dim=-1))
    return torch.where(drop, torch.full_like(logits, float("-inf")), logits)
''',
        "a probability threshold per row": '''
def top_p_filter(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, _ = torch.sort(probs, dim=-1, descending=True)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    in_nucleus = mass_before < p
    # the smallest probability still in the nucleus; ties are not tested
    threshold = torch.where(in_nucleus, sorted_probs, torch.ones_like(sorted_probs))
    threshold = threshold.min(dim=-1, keepdim=True).values
    out = logits.clone()
    out[probs < threshold] = float("-inf")
    return out
''',
    },
    "ex8_attend_with_cache": {
        "positions compared with arange": '''
def attend_with_cache(q_new, k_new, v_new, k_cache, v_cache):
    k_all = torch.cat((k_cache, k_new), dim=2)
    v_all = torch.cat((v_cache, v_new), dim=2)
    t_past, t_new = k_cache.shape[2], q_new.shape[2]
    query_pos = torch.arange(t_past, t_past + t_new)[:, None]
    key_pos = torch.arange(t_past + t_new)[None, :]
    scores = q_new @ k_all.transpose(2, 3) / math.sqrt(q_new.shape[-1])
    scores = scores.masked_fill(key_pos > query_pos, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v_all, k_all, v_all
''',
        "an additive mask shifted by the cache length": '''
def attend_with_cache(q_new, k_new, v_new, k_cache, v_cache):
    k_all = torch.cat([k_cache, k_new], -2)
    v_all = torch.cat([v_cache, v_new], -2)
    t_new, t_all = q_new.shape[-2], k_all.shape[-2]
    mask = torch.full((t_new, t_all), float("-inf"), dtype=q_new.dtype)
    mask = torch.triu(mask, diagonal=t_all - t_new + 1)
    weights = torch.softmax(q_new @ k_all.mT / q_new.shape[-1] ** 0.5 + mask, dim=-1)
    return weights @ v_all, k_all, v_all
''',
    },
}
