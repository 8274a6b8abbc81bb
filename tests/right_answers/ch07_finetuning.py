"""Alternative correct answers to Chapter 7's exercises, keyed by the answer cell's grade_id;
each must earn full points."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_lora_forward": {
        "F.linear for both paths": '''
def lora_forward(x, weight, bias, lora_A, lora_B, alpha):
    scaling = alpha / lora_A.shape[0]
    return F.linear(x, weight, bias) + scaling * F.linear(F.linear(x, lora_A), lora_B)
''',
        "einsum over the last dimension": '''
def lora_forward(x, weight, bias, lora_A, lora_B, alpha):
    r = len(lora_A)
    h = torch.einsum("...i,oi->...o", x, weight)
    update = torch.einsum("...r,or->...o", torch.einsum("...i,ri->...r", x, lora_A), lora_B)
    out = h + update * (alpha / r)
    return out if bias is None else out + bias
''',
        "merge the weight first, then one matmul": '''
def lora_forward(x, weight, bias, lora_A, lora_B, alpha):
    w = weight + (alpha / lora_A.size(0)) * (lora_B @ lora_A)
    return F.linear(x, w, bias)
''',
    },
    "ex2_merge_lora_weight": {
        "torch.addmm (a new tensor: weight + scale * B @ A)": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    return torch.addmm(weight, lora_B, lora_A, alpha=alpha / lora_A.shape[0])
''',
        "clone, then add in place to the copy": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    merged = weight.clone()
    merged.add_(lora_B @ lora_A, alpha=alpha / len(lora_A))
    return merged
''',
        "einsum over the rank": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    r = lora_A.size(0)
    return weight + torch.einsum("or,ri->oi", lora_B, lora_A) * alpha / r
''',
    },
    "ex3_answer_only_targets": {
        "loops over rows and positions": '''
def answer_only_targets(ids, prompt_lengths, lengths):
    B, T = ids.shape
    out = torch.full((B, T - 1), -100, dtype=torch.long)
    for b in range(B):
        for t in range(T - 1):
            if int(prompt_lengths[b]) <= t + 1 < int(lengths[b]):
                out[b, t] = ids[b, t + 1]
    return out
''',
        "torch.where with a broadcast position grid": '''
def answer_only_targets(ids, prompt_lengths, lengths):
    nxt = ids[:, 1:]
    pos = torch.arange(nxt.shape[1]).expand_as(nxt) + 1
    inside = (pos >= prompt_lengths.unsqueeze(1)) & (pos < lengths.unsqueeze(1))
    return torch.where(inside, nxt, torch.full_like(nxt, -100))
''',
        "clone and fill slices per row": '''
def answer_only_targets(ids, prompt_lengths, lengths):
    out = ids[:, 1:].clone()
    for b, (p, n) in enumerate(zip(prompt_lengths.tolist(), lengths.tolist())):
        out[b, :p - 1] = -100
        out[b, n - 1:] = -100
    return out
''',
    },
    "ex4_dpo_loss": {
        "softplus of the negative margin": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    chosen = beta * (policy_chosen - reference_chosen)
    rejected = beta * (policy_rejected - reference_rejected)
    return F.softplus(rejected - chosen).mean()
''',
        "logaddexp(0, -z)": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    z = beta * ((policy_chosen - policy_rejected) - (reference_chosen - reference_rejected))
    return torch.logaddexp(torch.zeros_like(z), -z).mean()
''',
        "stable log1p form by hand": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    z = beta * (policy_chosen - reference_chosen - policy_rejected + reference_rejected)
    losses = torch.clamp(-z, min=0) + torch.log1p(torch.exp(-z.abs()))
    return losses.sum() / len(losses)
''',
    },
    "ex5_absmax_int8_per_channel": {
        "a loop over the rows": '''
def absmax_int8_per_channel(weight):
    q = torch.empty(weight.shape, dtype=torch.int8)
    scale = torch.empty(weight.shape[0], 1, dtype=torch.float32)
    for i, row in enumerate(weight):
        m = row.abs().max()
        s = m / 127 if m > 0 else torch.tensor(1.0)
        scale[i, 0] = s
        q[i] = torch.round(row / s).clamp(-127, 127).to(torch.int8)
    return q, scale
''',
        "numpy (np.round also rounds halves to even)": '''
def absmax_int8_per_channel(weight):
    w = weight.detach().numpy()
    absmax = np.abs(w).max(axis=1, keepdims=True)
    scale = np.where(absmax > 0, absmax / np.float32(127), np.float32(1.0)).astype(np.float32)
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return torch.from_numpy(q), torch.from_numpy(scale)
''',
    },
}
