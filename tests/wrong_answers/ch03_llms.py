"""Wrong answers to Chapter 3's exercises, keyed by the answer cell's grade_id."""

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_bpe_merge_step": {
        "merge does not skip the second id of a pair": '''
def bpe_merge_step(ids, new_id):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    best = min(counts, key=lambda p: (-counts[p], p))
    merged = [new_id if tuple(ids[i:i + 2]) == best else t for i, t in enumerate(ids)]
    return best, merged
''',
        "ties go to the pair seen first": '''
def bpe_merge_step(ids, new_id):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    best = max(counts, key=counts.get)
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == best:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return best, merged
''',
        "drops the last id when it is not merged": '''
def bpe_merge_step(ids, new_id):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    best = min(counts, key=lambda p: (-counts[p], p))
    merged, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == best:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return best, merged
''',
        "counts each distinct pair once per sequence": '''
def bpe_merge_step(ids, new_id):
    pairs = list(zip(ids, ids[1:]))
    counts = {p: 1 for p in pairs}
    best = min(counts, key=lambda p: (-counts[p], p))
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == best:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return best, merged
''',
        "calls the package": '''
from genai_course.llm import tokenizers as _t
def bpe_merge_step(ids, new_id):
    counts = _t.pair_counts(ids)
    best = min(counts, key=lambda p: (-counts[p], p))
    return best, _t.merge(ids, best, new_id)
''',
    },
    "ex2_causal_attention": {
        "no 1/sqrt(d) scaling": '''
def causal_attention(q, k, v):
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v, weights
''',
        "mask off by one (a position cannot see itself)": '''
def causal_attention(q, k, v):
    T, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=0)
    future[0, 0] = False  # (so that the first row is not all -inf)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v, weights
''',
        "softmax over the queries axis": '''
def causal_attention(q, k, v):
    T, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-2)
    return weights @ v, weights.nan_to_num()
''',
        "mask hides the past instead of the future": '''
def causal_attention(q, k, v):
    T, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    past = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)
    weights = torch.softmax(scores.masked_fill(past, float("-inf")), dim=-1)
    return weights @ v, weights
''',
        "calls the package": '''
from genai_course.llm.attention import scaled_dot_product_attention as _sdpa
def causal_attention(q, k, v):
    return _sdpa(q, k, v, is_causal=True, return_weights=True)
''',
    },
    "ex3_split_heads": {
        "reshapes straight to (B, H, T, D) without a transpose": '''
def split_heads(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, n_head, T, C // n_head)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)
''',
        "interleaved channels (head j gets channels j, j + H, ...)": '''
def split_heads(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, C // n_head, n_head).permute(0, 3, 1, 2)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, H * D)
''',
        "merge_heads reshapes without moving the head axis back": '''
def split_heads(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.reshape(B, T, H * D)
''',
        "heads on the last axis: (B, T, H, D)": '''
def split_heads(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)
''',
        "calls the package": '''
from genai_course.llm.attention import split_heads as _split, merge_heads as _merge
def split_heads(x, n_head):
    return _split(x, n_head)


def merge_heads(x):
    return _merge(x)
''',
    },
    "ex4_rope": {
        "frequencies base^(-i/d) instead of base^(-2i/d)": '''
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(d // 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out
''',
        "rotates the wrong way": '''
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos + odd * sin
    out[..., 1::2] = -even * sin + odd * cos
    return out
''',
        "pairs the two halves instead of neighbours": '''
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    first, second = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)
''',
        "uses 0..T-1 instead of the given positions": '''
def rope(x, positions, base=10000.0):
    d, T = x.shape[-1], x.shape[-2]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.arange(T, dtype=torch.float64)[:, None] * theta
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out
''',
        "calls the package": '''
from genai_course.llm.attention import apply_rope as _rope
def rope(x, positions, base=10000.0):
    return _rope(x, positions, base)
''',
    },
    "ex5_transformer_block": {
        "no LayerNorm before the attention": '''
def block_qkv(x, params, n_head):
    C = x.shape[-1]
    q, k, v = F.linear(x, params["qkv_weight"], params["qkv_bias"]).split(C, dim=-1)
    return split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)
''',
        "keys and queries swapped (the layer's output is [q, k, v])": '''
def block_qkv(x, params, n_head):
    C = x.shape[-1]
    h = F.layer_norm(x, (C,), params["ln1_weight"], params["ln1_bias"])
    k, q, v = F.linear(h, params["qkv_weight"], params["qkv_bias"]).split(C, dim=-1)
    return split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)
''',
        "LayerNorms without their weights and biases": '''
def block_qkv(x, params, n_head):
    C = x.shape[-1]
    h = F.layer_norm(x, (C,))
    q, k, v = F.linear(h, params["qkv_weight"], params["qkv_bias"]).split(C, dim=-1)
    return split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)


def block_output(x, heads, params):
    C = x.shape[-1]
    x = x + F.linear(merge_heads(heads), params["proj_weight"], params["proj_bias"])
    h = F.gelu(F.linear(F.layer_norm(x, (C,)), params["fc_weight"], params["fc_bias"]))
    return x + F.linear(h, params["out_weight"], params["out_bias"])
''',
        "post-LayerNorm (normalises after each residual addition)": '''
def block_qkv(x, params, n_head):
    C = x.shape[-1]
    q, k, v = F.linear(x, params["qkv_weight"], params["qkv_bias"]).split(C, dim=-1)
    return split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)


def block_output(x, heads, params):
    C = x.shape[-1]
    x = x + F.linear(merge_heads(heads), params["proj_weight"], params["proj_bias"])
    x = F.layer_norm(x, (C,), params["ln1_weight"], params["ln1_bias"])
    h = F.gelu(F.linear(x, params["fc_weight"], params["fc_bias"]))
    return F.layer_norm(x + F.linear(h, params["out_weight"], params["out_bias"]), (C,),
                        params["ln2_weight"], params["ln2_bias"])
''',
        "no residual connection around the MLP": '''
def block_output(x, heads, params):
    C = x.shape[-1]
    x = x + F.linear(merge_heads(heads), params["proj_weight"], params["proj_bias"])
    h = F.layer_norm(x, (C,), params["ln2_weight"], params["ln2_bias"])
    h = F.gelu(F.linear(h, params["fc_weight"], params["fc_bias"]))
    return F.linear(h, params["out_weight"], params["out_bias"])
''',
        "no residual connection around the attention": '''
def block_output(x, heads, params):
    C = x.shape[-1]
    x = F.linear(merge_heads(heads), params["proj_weight"], params["proj_bias"])
    h = F.layer_norm(x, (C,), params["ln2_weight"], params["ln2_bias"])
    h = F.gelu(F.linear(h, params["fc_weight"], params["fc_bias"]))
    return x + F.linear(h, params["out_weight"], params["out_bias"])
''',
        "ReLU instead of GELU": '''
def block_output(x, heads, params):
    C = x.shape[-1]
    x = x + F.linear(merge_heads(heads), params["proj_weight"], params["proj_bias"])
    h = F.layer_norm(x, (C,), params["ln2_weight"], params["ln2_bias"])
    h = F.relu(F.linear(h, params["fc_weight"], params["fc_bias"]))
    return x + F.linear(h, params["out_weight"], params["out_bias"])
''',
        "calls the package": '''
from genai_course.llm.transformer import block_output as _output, block_qkv as _qkv
def block_qkv(x, params, n_head):
    return _qkv(x, params, n_head)


def block_output(x, heads, params):
    return _output(x, heads, params)
''',
    },
    "ex6_gpt_parameter_count": {
        "forgets weight tying (a separate output layer)": '''
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    d = n_embd
    block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    return vocab_size * d + block_size * d + n_layer * block + 2 * d + vocab_size * d
''',
        "forgets the biases": '''
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    d = n_embd
    block = 4 * d + 3 * d * d + d * d + 4 * d * d + 4 * d * d
    return vocab_size * d + block_size * d + n_layer * block + 2 * d
''',
        "forgets the final LayerNorm": '''
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    d = n_embd
    block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    return vocab_size * d + block_size * d + n_layer * block
''',
        "MLP hidden width d instead of 4d": '''
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    d = n_embd
    block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * d + d) + (d * d + d)
    return vocab_size * d + block_size * d + n_layer * block + 2 * d
''',
        "calls the package": '''
from genai_course.llm.transformer import GPTConfig as _C, count_parameters as _count
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    return _count(_C(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=1,
                     n_embd=n_embd))
''',
        "builds the package's GPT and counts": '''
from genai_course.llm.transformer import GPT as _G, GPTConfig as _C
def gpt_parameter_count(vocab_size, block_size, n_layer, n_embd):
    model = _G(_C(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=1,
                  n_embd=n_embd))
    return sum(p.numel() for p in model.parameters())
''',
    },
    "ex7_top_p_filter": {
        "drops the token that crosses p": '''
def top_p_filter(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    remove_sorted = torch.cumsum(sorted_probs, dim=-1) > p
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
''',
        "returns the logits in sorted order": '''
def top_p_filter(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    remove_sorted = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= p
    return logits.gather(-1, order).masked_fill(remove_sorted, float("-inf"))
''',
        "sorts in increasing order": '''
def top_p_filter(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1)
    remove_sorted = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= p
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
''',
        "softmax over the batch axis": '''
def top_p_filter(logits, p):
    probs = torch.softmax(logits, dim=0)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    remove_sorted = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= p
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
''',
        "calls the package": '''
from genai_course.llm.decoding import top_p_logits as _top_p
def top_p_filter(logits, p):
    return _top_p(logits, p)
''',
    },
    "ex8_attend_with_cache": {
        "PyTorch's top-left causal mask (is_causal with a cache)": '''
def attend_with_cache(q_new, k_new, v_new, k_cache, v_cache):
    k_all = torch.cat([k_cache, k_new], dim=-2)
    v_all = torch.cat([v_cache, v_new], dim=-2)
    out = F.scaled_dot_product_attention(q_new, k_all, v_all, is_causal=q_new.shape[-2] > 1)
    return out, k_all, v_all
''',
        "no mask: new tokens see the later new tokens": '''
def attend_with_cache(q_new, k_new, v_new, k_cache, v_cache):
    k_all = torch.cat([k_cache, k_new], dim=-2)
    v_all = torch.cat([v_cache, v_new], dim=-2)
    scores = q_new @ k_all.transpose(-2, -1) / math.sqrt(q_new.shape[-1])
    return torch.softmax(scores, dim=-1) @ v_all, k_all, v_all
''',
        "new keys put before the cached ones": '''
def attend_with_cache(q_new, k_new, v_new, k_cache, v_cache):
    k_all = torch.cat([k_new, k_cache], dim=-2)
    v_all = torch.cat([v_new, v_cache], dim=-2)
    t_new, t_all = q_new.shape[-2], k_all.shape[-2]
    scores = q_new @ k_all.transpose(-2, -1) / math.sqrt(q_new.shape[-1])
    allowed = torch.ones(t_new, t_all, dtype=torch.bool).tril(diagonal=t_all - t_new)
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return weights @ v_all, k_all, v_all
''',
        "attends to the cache only (not to the new tokens)": '''
def attend_with_cache(q_new, k_new, v_new, k_cache, v_cache):
    k_all = torch.cat([k_cache, k_new], dim=-2)
    v_all = torch.cat([v_cache, v_new], dim=-2)
    if k_cache.shape[-2] == 0:
        k_cache, v_cache = k_new[..., :1, :], v_new[..., :1, :]
    scores = q_new @ k_cache.transpose(-2, -1) / math.sqrt(q_new.shape[-1])
    return torch.softmax(scores, dim=-1) @ v_cache, k_all, v_all
''',
        "calls the package": '''
from genai_course.llm.attention import KVCache as _Cache, causal_mask as _mask
from genai_course.llm.attention import scaled_dot_product_attention as _sdpa
def attend_with_cache(q_new, k_new, v_new, k_cache, v_cache):
    cache = _Cache(1)
    cache.update(0, k_cache, v_cache)
    k_all, v_all = cache.update(0, k_new, v_new)
    mask = _mask(q_new.shape[-2], k_all.shape[-2])
    return _sdpa(q_new, k_all, v_all, mask=mask), k_all, v_all
''',
    },
}
