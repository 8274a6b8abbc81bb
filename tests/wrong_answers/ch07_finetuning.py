"""Wrong answers to Chapter 7's exercises, keyed by the answer cell's grade_id."""

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_lora_forward": {
        "scales by r / alpha": '''
def lora_forward(x, weight, bias, lora_A, lora_B, alpha):
    r = lora_A.shape[0]
    h = x @ weight.T + (0 if bias is None else bias)
    return h + (r / alpha) * ((x @ lora_A.T) @ lora_B.T)
''',
        "scales by alpha, not alpha / r": '''
def lora_forward(x, weight, bias, lora_A, lora_B, alpha):
    h = x @ weight.T + (0 if bias is None else bias)
    return h + alpha * ((x @ lora_A.T) @ lora_B.T)
''',
        "forgets the bias": '''
def lora_forward(x, weight, bias, lora_A, lora_B, alpha):
    r = lora_A.shape[0]
    return x @ weight.T + (alpha / r) * ((x @ lora_A.T) @ lora_B.T)
''',
        "calls the package's LoRALinear": '''
def lora_forward(x, weight, bias, lora_A, lora_B, alpha):
    from genai_course.finetune.lora import LoRALinear
    base = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    layer = LoRALinear(base, r=lora_A.shape[0], alpha=alpha)
    with torch.no_grad():
        base.weight.copy_(weight)
        if bias is not None:
            base.bias.copy_(bias)
        layer.lora_A.weight.copy_(lora_A)
        layer.lora_B.weight.copy_(lora_B)
        return layer(x)
''',
    },
    "ex2_merge_lora_weight": {
        "adds the update to the base weight in place and returns it": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    weight += (alpha / lora_A.shape[0]) * (lora_B @ lora_A)
    return weight
''',
        "scales by r / alpha": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    return weight + (lora_A.shape[0] / alpha) * (lora_B @ lora_A)
''',
        "scales by alpha, not alpha / r": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    return weight + alpha * (lora_B @ lora_A)
''',
        "returns the update without the base weight": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    return (alpha / lora_A.shape[0]) * (lora_B @ lora_A)
''',
        "calls the package's merge": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    from genai_course.finetune.lora import LoRALinear
    layer = LoRALinear(nn.Linear(weight.shape[1], weight.shape[0], bias=False), r=lora_A.shape[0],
                       alpha=alpha)
    with torch.no_grad():
        layer.base.weight.copy_(weight)
        layer.lora_A.weight.copy_(lora_A)
        layer.lora_B.weight.copy_(lora_B)
    return layer.merge().weight.detach()
''',
        "calls the package's delta_weight": '''
def merge_lora_weight(weight, lora_A, lora_B, alpha):
    from genai_course.finetune import lora
    adapter = lora.LoRALinear(nn.Linear(lora_A.size(1), lora_B.size(0)), r=len(lora_A), alpha=alpha)
    adapter.lora_A.weight.data, adapter.lora_B.weight.data = lora_A, lora_B
    return weight + adapter.delta_weight().detach()
''',
    },
    "ex3_answer_only_targets": {
        "masks the answer instead of the prompt": '''
def answer_only_targets(ids, prompt_lengths, lengths):
    position = torch.arange(1, ids.shape[1])
    keep = (position < prompt_lengths[:, None]) & (position < lengths[:, None])
    return ids[:, 1:].masked_fill(~keep, -100)
''',
        "off by one: compares the target's index, not the predicted token's position": '''
def answer_only_targets(ids, prompt_lengths, lengths):
    position = torch.arange(0, ids.shape[1] - 1)
    keep = (position >= prompt_lengths[:, None]) & (position < lengths[:, None])
    return ids[:, 1:].masked_fill(~keep, -100)
''',
        "padding is not masked": '''
def answer_only_targets(ids, prompt_lengths, lengths):
    position = torch.arange(1, ids.shape[1])
    return ids[:, 1:].masked_fill(position < prompt_lengths[:, None], -100)
''',
        "calls the package": '''
def answer_only_targets(ids, prompt_lengths, lengths):
    from genai_course.finetune.instruction import answer_only_targets as reference
    return reference(ids, prompt_lengths, lengths)
''',
    },
    "ex4_dpo_loss": {
        "sign flipped: rewards the rejected answer": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    margin = (policy_rejected - reference_rejected) - (policy_chosen - reference_chosen)
    return -F.logsigmoid(beta * margin).mean()
''',
        "beta outside the log-sigmoid": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -beta * F.logsigmoid(margin).mean()
''',
        "no reference model": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    return -F.logsigmoid(beta * (policy_chosen - policy_rejected)).mean()
''',
        "sum over the batch instead of the mean": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin).sum()
''',
        "log of the sigmoid: infinite for a large negative margin": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -torch.log(torch.sigmoid(beta * margin)).mean()
''',
        "detaches the loss: autograd cannot train the policy with it": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin).mean().detach()
''',
        "calls the package": '''
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    from genai_course.finetune.dpo import dpo_loss as reference
    return reference(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta)
''',
    },
    "ex5_absmax_int8_per_channel": {
        "one scale for the whole tensor": '''
def absmax_int8_per_channel(weight):
    absmax = weight.abs().max()
    scale = (absmax / 127 if absmax > 0 else torch.tensor(1.0)) * torch.ones(weight.shape[0], 1)
    q = torch.clamp(torch.round(weight / scale), -127, 127).to(torch.int8)
    return q, scale
''',
        "truncates instead of rounding": '''
def absmax_int8_per_channel(weight):
    absmax = weight.abs().amax(dim=1, keepdim=True)
    scale = torch.where(absmax > 0, absmax / 127, torch.ones_like(absmax))
    return (weight / scale).to(torch.int8), scale
''',
        "scale from 128 levels": '''
def absmax_int8_per_channel(weight):
    absmax = weight.abs().amax(dim=1, keepdim=True)
    scale = torch.where(absmax > 0, absmax / 128, torch.ones_like(absmax))
    q = torch.clamp(torch.round(weight / scale), -128, 127).to(torch.int8)
    return q, scale
''',
        "one scale per column (input channel)": '''
def absmax_int8_per_channel(weight):
    absmax = weight.abs().amax(dim=0, keepdim=True)
    scale = torch.where(absmax > 0, absmax / 127, torch.ones_like(absmax))
    q = torch.clamp(torch.round(weight / scale), -127, 127).to(torch.int8)
    return q, scale.amax(dim=1, keepdim=True).expand(weight.shape[0], 1).clone()
''',
        "calls the package": '''
def absmax_int8_per_channel(weight):
    from genai_course.finetune.quantize import absmax_quantize
    return absmax_quantize(weight, bits=8, per_channel=True)
''',
    },
}
