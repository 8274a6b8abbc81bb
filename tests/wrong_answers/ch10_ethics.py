"""Wrong answers to Chapter 10's exercises, keyed by the answer cell's grade_id."""

_LUHN_CHECKS = '''
    if not isinstance(number, str):
        raise TypeError("number must be a str")
    digits = number.replace(" ", "").replace("-", "")
    if len(digits) < 2 or not digits.isdigit() or not digits.isascii():
        raise ValueError("bad number")
'''

_EXPOSURE_CHECKS = '''
    if not isinstance(candidate_log_probs, torch.Tensor):
        raise TypeError("candidate_log_probs must be a tensor")
    if candidate_log_probs.ndim != 1 or candidate_log_probs.numel() == 0:
        raise ValueError("candidate_log_probs must be a non-empty 1-D tensor")
'''

_Z_CHECKS = '''
    if scored < 1 or not 0 <= green <= scored or not 0 < gamma < 1:
        raise ValueError("bad arguments")
'''

_FLOPS_CHECKS = '''
    for value in (n_layer, d_model, n_ctx, n_tokens):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("ints only")
        if value < 1:
            raise ValueError("at least 1")
'''

# a green list with the given context in the seed and the given slice of the permutation
_GREEN = '''
def green_list(context, vocab_size, gamma, key):
    g = torch.Generator().manual_seed(context_seed(key, {context}))
    perm = torch.randperm(vocab_size, generator=g)
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    mask[{pick}] = True
    return mask
'''

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_luhn_valid": {
        "doubles every second digit from the left": f'''
def luhn_valid(number):{_LUHN_CHECKS}
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 1 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0
''',
        "adds doubled digits without subtracting 9": f'''
def luhn_valid(number):{_LUHN_CHECKS}
    total = sum(int(ch) * (2 if i % 2 else 1) for i, ch in enumerate(reversed(digits)))
    return total % 10 == 0
''',
        "doubles the check digit too": f'''
def luhn_valid(number):{_LUHN_CHECKS}
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0
''',
        "checks nothing about the input": '''
def luhn_valid(number):
    digits = str(number).replace(" ", "").replace("-", "")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0
''',
        "calls the package": '''
def luhn_valid(number):
    from genai_course.safety.pii import luhn_valid as reference
    return reference(number)
''',
    },
    "ex2_exposure": {
        "rank starts at 0": f'''
def exposure(canary_log_prob, candidate_log_probs):{_EXPOSURE_CHECKS}
    rank = int((candidate_log_probs > canary_log_prob).sum())
    return math.log2(len(candidate_log_probs)) - math.log2(max(rank, 1e-300))
''',
        "ties count against the canary": f'''
def exposure(canary_log_prob, candidate_log_probs):{_EXPOSURE_CHECKS}
    rank = int((candidate_log_probs >= canary_log_prob).sum())
    return math.log2(len(candidate_log_probs)) - math.log2(rank)
''',
        "natural logarithms instead of bits": f'''
def exposure(canary_log_prob, candidate_log_probs):{_EXPOSURE_CHECKS}
    rank = 1 + int((candidate_log_probs > canary_log_prob).sum())
    return math.log(len(candidate_log_probs)) - math.log(rank)
''',
        "ranks from the least likely candidate": f'''
def exposure(canary_log_prob, candidate_log_probs):{_EXPOSURE_CHECKS}
    rank = 1 + int((candidate_log_probs < canary_log_prob).sum())
    return math.log2(len(candidate_log_probs)) - math.log2(rank)
''',
        "calls the package": '''
def exposure(canary_log_prob, candidate_log_probs):
    from genai_course.safety.memorization import exposure_from_log_probs
    return exposure_from_log_probs(canary_log_prob, candidate_log_probs)
''',
    },
    "ex3_green_list": {
        "takes the end of the permutation": _GREEN.format(
            context="context", pick="perm[-int(gamma * vocab_size):]"),
        "rounds the size of the green list": _GREEN.format(
            context="context", pick="perm[:round(gamma * vocab_size)]"),
        "ignores the context": _GREEN.format(context="()", pick="perm[:int(gamma * vocab_size)]"),
        "shuffles with Python's random module": '''
import random

def green_list(context, vocab_size, gamma, key):
    order = list(range(vocab_size))
    random.Random(context_seed(key, context)).shuffle(order)
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    mask[order[:int(gamma * vocab_size)]] = True
    return mask
''',
        "returns the token ids instead of a mask": '''
def green_list(context, vocab_size, gamma, key):
    g = torch.Generator().manual_seed(context_seed(key, context))
    return torch.randperm(vocab_size, generator=g)[:int(gamma * vocab_size)]
''',
        "calls the package": '''
def green_list(context, vocab_size, gamma, key):
    from genai_course.safety.watermark import green_list as reference
    return reference(context, vocab_size, gamma, key)
''',
    },
    "ex4_z_score": {
        "forgets the square root": f'''
def z_score(green, scored, gamma):{_Z_CHECKS}
    return float((green - gamma * scored) / (scored * gamma * (1 - gamma)))
''',
        "variance without the factor 1 - gamma": f'''
def z_score(green, scored, gamma):{_Z_CHECKS}
    return float((green - gamma * scored) / math.sqrt(scored * gamma))
''',
        "proportions without the sqrt(T)": f'''
def z_score(green, scored, gamma):{_Z_CHECKS}
    return float((green / scored - gamma) / math.sqrt(gamma * (1 - gamma)))
''',
        "checks nothing about the input": '''
def z_score(green, scored, gamma):
    return float((green - gamma * scored) / math.sqrt(max(scored * gamma * (1 - gamma), 1e-12)))
''',
        "calls the package": '''
def z_score(green, scored, gamma):
    from genai_course.safety.watermark import z_score as reference
    return reference(green, scored, gamma)
''',
    },
    "ex5_weat_effect_size": {
        "population standard deviation": '''
def weat_effect_size(X, Y, A, B):
    unit = lambda M: M.double() / M.double().norm(dim=1, keepdim=True)
    s = lambda W: (unit(W) @ unit(A).T).mean(1) - (unit(W) @ unit(B).T).mean(1)
    sx, sy = s(X), s(Y)
    return float((sx.mean() - sy.mean()) / torch.cat([sx, sy]).std(unbiased=False))
''',
        "dot products instead of cosines": '''
def weat_effect_size(X, Y, A, B):
    s = lambda W: (W.double() @ A.double().T).mean(1) - (W.double() @ B.double().T).mean(1)
    sx, sy = s(X), s(Y)
    return float((sx.mean() - sy.mean()) / torch.cat([sx, sy]).std())
''',
        "standard deviation of X only": '''
def weat_effect_size(X, Y, A, B):
    unit = lambda M: M.double() / M.double().norm(dim=1, keepdim=True)
    s = lambda W: (unit(W) @ unit(A).T).mean(1) - (unit(W) @ unit(B).T).mean(1)
    sx, sy = s(X), s(Y)
    return float((sx.mean() - sy.mean()) / sx.std())
''',
        "calls the package": '''
def weat_effect_size(X, Y, A, B):
    from genai_course.safety.bias import weat_effect_size as reference
    return reference(X, Y, A, B)
''',
    },
    "ex6_training_flops": {
        "forward pass only": f'''
def training_flops_estimate(n_layer, d_model, n_ctx, n_tokens):{_FLOPS_CHECKS}
    n = 12 * n_layer * d_model ** 2
    return float((2 * n + 2 * n_layer * n_ctx * d_model) * n_tokens)
''',
        "leaves out the attention scores": f'''
def training_flops_estimate(n_layer, d_model, n_ctx, n_tokens):{_FLOPS_CHECKS}
    return float(6 * 12 * n_layer * d_model ** 2 * n_tokens)
''',
        "counts only the attention matrices": f'''
def training_flops_estimate(n_layer, d_model, n_ctx, n_tokens):{_FLOPS_CHECKS}
    n = 4 * n_layer * d_model ** 2
    return float(6 * n * n_tokens + 6 * n_layer * n_ctx * d_model * n_tokens)
''',
        "checks nothing about the input": '''
def training_flops_estimate(n_layer, d_model, n_ctx, n_tokens):
    n = 12 * n_layer * d_model ** 2
    return float(6 * n * n_tokens + 6 * n_layer * n_ctx * d_model * n_tokens)
''',
        "calls the package's 6ND": f'''
def training_flops_estimate(n_layer, d_model, n_ctx, n_tokens):{_FLOPS_CHECKS}
    from genai_course.llm.transformer import training_flops
    return training_flops(12 * n_layer * d_model ** 2, n_tokens)
''',
    },
}
