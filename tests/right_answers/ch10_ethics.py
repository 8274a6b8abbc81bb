"""Alternative correct answers to Chapter 10's exercises, keyed by the answer cell's grade_id;
each must earn full points."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_luhn_valid": {
        "a table of doubled digits, slicing from the right": '''
import re

def luhn_valid(number):
    if not isinstance(number, str):
        raise TypeError("number must be a str")
    if not re.fullmatch(r"[0-9 -]*", number):
        raise ValueError("only digits, spaces and hyphens")
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 2:
        raise ValueError("at least two digits")
    doubled = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]
    total = sum(digits[-1::-2]) + sum(doubled[d] for d in digits[-2::-2])
    return total % 10 == 0
''',
        "divmod adds the digits of each double": '''
def luhn_valid(number):
    if type(number) is not str:
        raise TypeError("not a string")
    cleaned = number.translate(str.maketrans("", "", " -"))
    if len(cleaned) < 2 or any(c not in "0123456789" for c in cleaned):
        raise ValueError("bad characters or too short")
    total = 0
    for i, c in enumerate(cleaned[::-1]):
        value = int(c) * (1 + i % 2)
        total += sum(divmod(value, 10))
    return bool(total % 10 == 0)
''',
    },
    "ex2_exposure": {
        "NumPy counting": '''
import numpy as np

def exposure(canary_log_prob, candidate_log_probs):
    if not isinstance(candidate_log_probs, torch.Tensor):
        raise TypeError("need a tensor")
    if candidate_log_probs.dim() != 1 or len(candidate_log_probs) == 0:
        raise ValueError("need a non-empty 1-D tensor")
    values = candidate_log_probs.detach().cpu().numpy()
    rank = 1 + np.count_nonzero(values > canary_log_prob)
    return float(np.log2(values.size) - np.log2(rank))
''',
        "sort descending, binary search for the first tie": '''
import bisect

def exposure(canary_log_prob, candidate_log_probs):
    if not isinstance(candidate_log_probs, torch.Tensor):
        raise TypeError("need a tensor")
    if candidate_log_probs.ndim != 1 or candidate_log_probs.numel() == 0:
        raise ValueError("need a non-empty 1-D tensor")
    ascending = sorted(candidate_log_probs.tolist())
    better = len(ascending) - bisect.bisect_right(ascending, canary_log_prob)
    return math.log2(len(ascending) / (better + 1))
''',
    },
    "ex3_green_list": {
        "scatter into an empty mask": '''
def green_list(context, vocab_size, gamma, key):
    g = torch.Generator()
    g.manual_seed(context_seed(key, context))
    perm = torch.randperm(vocab_size, generator=g)
    k = int(gamma * vocab_size)
    return torch.zeros(vocab_size, dtype=torch.bool).scatter(0, perm[:k], True)
''',
        "each token's position in the permutation": '''
def green_list(context, vocab_size, gamma, key):
    g = torch.Generator().manual_seed(context_seed(key, context))
    position = torch.randperm(vocab_size, generator=g).argsort()  # where each token sits
    return position < int(gamma * vocab_size)
''',
    },
    "ex4_z_score": {
        "the share of green tokens against gamma": '''
def z_score(green, scored, gamma):
    if not (scored >= 1 and 0 <= green <= scored and 0 < gamma < 1):
        raise ValueError("invalid arguments")
    share = green / scored
    return (share - gamma) / math.sqrt(gamma * (1 - gamma) / scored)
''',
        "the binomial's moments from scipy": '''
from scipy.stats import binom

def z_score(green, scored, gamma):
    if scored < 1 or green < 0 or green > scored or gamma <= 0 or gamma >= 1:
        raise ValueError("invalid arguments")
    return float((green - binom.mean(scored, gamma)) / binom.std(scored, gamma))
''',
    },
    "ex5_weat_effect_size": {
        "word by word with statistics.stdev": '''
import statistics

def weat_effect_size(X, Y, A, B):
    def cos(u, v):
        u, v = u.double(), v.double()
        return float(u @ v / (u.norm() * v.norm()))

    def s(w):
        return sum(cos(w, a) for a in A) / len(A) - sum(cos(w, b) for b in B) / len(B)

    sx, sy = [s(x) for x in X], [s(y) for y in Y]
    return (statistics.fmean(sx) - statistics.fmean(sy)) / statistics.stdev(sx + sy)
''',
        "broadcast cosine_similarity": '''
import torch.nn.functional as F

def weat_effect_size(X, Y, A, B):
    def s(W):
        W, A2, B2 = W.double(), A.double(), B.double()
        ca = F.cosine_similarity(W[:, None, :], A2[None, :, :], dim=-1).mean(1)
        cb = F.cosine_similarity(W[:, None, :], B2[None, :, :], dim=-1).mean(1)
        return ca - cb

    both = torch.cat([s(X), s(Y)])
    n = len(X)
    return float((both[:n].mean() - both[n:].mean()) / both.std(correction=1))
''',
    },
    "ex6_training_flops": {
        "six N D plus the attention term": '''
def training_flops_estimate(n_layer, d_model, n_ctx, n_tokens):
    args = {"n_layer": n_layer, "d_model": d_model, "n_ctx": n_ctx, "n_tokens": n_tokens}
    for name, value in args.items():
        if type(value) is not int:
            raise TypeError(f"{name} must be an int")
    if min(args.values()) < 1:
        raise ValueError("every argument must be at least 1")
    n = 12 * n_layer * d_model * d_model
    return 6.0 * n * n_tokens + 6.0 * n_layer * n_ctx * d_model * n_tokens
''',
        "layer by layer, forward then backward": '''
def training_flops_estimate(n_layer, d_model, n_ctx, n_tokens):
    for value in (n_layer, d_model, n_ctx, n_tokens):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("ints only")
    if any(value < 1 for value in (n_layer, d_model, n_ctx, n_tokens)):
        raise ValueError("positive ints only")
    forward = 0
    for _ in range(n_layer):
        attention = 4 * d_model * d_model
        mlp = d_model * 4 * d_model + 4 * d_model * d_model
        forward += 2 * (attention + mlp) + 2 * n_ctx * d_model
    backward = 2 * forward
    return float((forward + backward) * n_tokens)
''',
    },
}
