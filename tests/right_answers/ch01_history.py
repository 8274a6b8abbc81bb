"""Alternative correct answers to Chapter 1's exercises, keyed by the answer cell's grade_id:
written the ways students write them (another data structure, another library, another
formula). Each must earn full points, in-process and through the real grading path."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_count_bigrams": {
        "Counter, turned into a dict": '''
from collections import Counter
def count_bigrams(sentences):
    counts = Counter()
    for sentence in sentences:
        padded = ["<s>", *sentence, "</s>"]
        counts.update(zip(padded, padded[1:]))
    return dict(counts)
''',
        "index loop with defaultdict": '''
from collections import defaultdict
def count_bigrams(sentences):
    counts = defaultdict(int)
    for sentence in sentences:
        tokens = ["<s>"] + sentence + ["</s>"]
        for i in range(1, len(tokens)):
            counts[(tokens[i - 1], tokens[i])] += 1
    return {pair: int(n) for pair, n in counts.items()}
''',
    },
    "ex2_next_token_distribution": {
        "two passes over the counts": '''
def next_token_distribution(counts, previous):
    total = 0
    for (prev, _tok), n in counts.items():
        if prev == previous:
            total += n
    if total == 0:
        raise ValueError(f"no bigram starts with {previous!r}")
    result = {}
    for (prev, tok), n in counts.items():
        if prev == previous:
            result[tok] = n / total
    return result
''',
        "followers gathered with a defaultdict": '''
from collections import defaultdict
def next_token_distribution(counts, previous):
    followers = defaultdict(float)
    for (prev, tok), n in counts.items():
        if prev == previous:
            followers[tok] += n
    if not followers:
        raise ValueError("never followed by anything: " + str(previous))
    total = sum(followers.values())
    return {tok: float(n / total) for tok, n in followers.items()}
''',
    },
    "ex3_sample_token": {
        "bisect on the cumulative sums": '''
import bisect
import itertools
def sample_token(distribution, u):
    if not (0 <= u < 1):
        raise ValueError("u must lie in [0, 1)")
    tokens = sorted(distribution)
    cumulative = list(itertools.accumulate(distribution[t] for t in tokens))
    i = bisect.bisect_right(cumulative, u)
    if i == len(tokens):  # rounding: the sum fell just short of 1
        i = max(j for j, t in enumerate(tokens) if distribution[t] > 0)
    return tokens[i]
''',
        "numpy searchsorted": '''
import numpy as np
def sample_token(distribution, u):
    if u < 0 or u >= 1:
        raise ValueError(f"u={u} is outside [0, 1)")
    tokens = sorted(distribution)
    cdf = np.cumsum([distribution[t] for t in tokens])
    i = int(np.searchsorted(cdf, u, side="right"))
    if i >= len(tokens):
        i = int(np.nonzero([distribution[t] > 0 for t in tokens])[0][-1])
    return str(tokens[i])
''',
    },
    "ex4_apply_temperature": {
        "in log space, like a softmax": '''
import math
def apply_temperature(distribution, temperature):
    if temperature <= 0:
        raise ValueError("the temperature must be positive")
    logits = {t: math.log(p) / temperature for t, p in distribution.items() if p > 0}
    top = max(logits.values())
    weights = {t: (math.exp(logits[t] - top) if t in logits else 0.0) for t in distribution}
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}
''',
        "numpy arrays": '''
import numpy as np
def apply_temperature(distribution, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature {temperature} is not > 0")
    tokens = list(distribution)
    p = np.array([distribution[t] for t in tokens], dtype=float) ** (1.0 / temperature)
    p = p / p.sum()
    return {t: float(x) for t, x in zip(tokens, p)}
''',
    },
    "ex5_perplexity": {
        "mean of the logs with statistics.fmean": '''
import math
import statistics
def perplexity(bigram_probs, sentences):
    logs = []
    for sentence in sentences:
        tokens = ["<s>"] + list(sentence) + ["</s>"]
        for prev, tok in zip(tokens, tokens[1:]):
            p = bigram_probs.get((prev, tok), 0)
            if p == 0:
                return math.inf
            logs.append(math.log(p))
    return math.exp(-statistics.fmean(logs))
''',
        "inverse geometric mean of the probabilities": '''
import math
def perplexity(bigram_probs, sentences):
    probs = [bigram_probs.get(pair, 0.0)
             for s in sentences
             for pair in zip(["<s>", *s], [*s, "</s>"])]
    if min(probs) == 0.0:
        return float("inf")
    return float(math.prod(probs) ** (-1.0 / len(probs)))
''',
    },
    "ex6_doubling_time": {
        "least squares written out": '''
import math
def doubling_time(years, params):
    x = [float(t) for t in years]
    y = [math.log2(p) for p in params]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    slope = (sum((a - mx) * (b - my) for a, b in zip(x, y))
             / sum((a - mx) ** 2 for a in x))
    return 1.0 / slope
''',
        "scipy linregress": '''
import numpy as np
from scipy import stats
def doubling_time(years, params):
    fit = stats.linregress(np.asarray(years, dtype=float), np.log2(params))
    return float(1 / fit.slope)
''',
        "numpy lstsq": '''
import numpy as np
def doubling_time(years, params):
    t = np.asarray(years, dtype=float)
    A = np.stack([t, np.ones_like(t)], axis=1)
    (slope, _), *_ = np.linalg.lstsq(A, np.log(params) / np.log(2), rcond=None)
    return float(1.0 / slope)
''',
    },
}
