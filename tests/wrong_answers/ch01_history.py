"""Wrong answers to Chapter 1's exercises, keyed by the answer cell's grade_id."""

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_count_bigrams": {
        "no padding": '''
def count_bigrams(sentences):
    counts = {}
    for s in sentences:
        for pair in zip(s[:-1], s[1:]):
            counts[pair] = counts.get(pair, 0) + 1
    return counts
''',
        "start marker only": '''
def count_bigrams(sentences):
    counts = {}
    for s in sentences:
        padded = ["<s>"] + list(s)
        for pair in zip(padded[:-1], padded[1:]):
            counts[pair] = counts.get(pair, 0) + 1
    return counts
''',
        "pairs span sentences": '''
def count_bigrams(sentences):
    stream = ["<s>"] + [t for s in sentences for t in s] + ["</s>"]
    counts = {}
    for pair in zip(stream[:-1], stream[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
''',
        "Counter instead of dict": '''
from collections import Counter
def count_bigrams(sentences):
    counts = Counter()
    for s in sentences:
        padded = ["<s>"] + list(s) + ["</s>"]
        counts.update(zip(padded[:-1], padded[1:]))
    return counts
''',
        "calls the package": '''
from genai_course.classic.ngram import NGramLanguageModel
def count_bigrams(sentences):
    sentences = [list(s) for s in sentences]
    if not sentences:
        return {}
    lm = NGramLanguageModel(2).fit(sentences)
    return {(p, t): c for p in ["<s>"] + sorted(lm.vocab)
            for t, c in lm.counts([p]).items()}
''',
    },
    "ex2_next_token_distribution": {
        "divides by all bigrams": '''
def next_token_distribution(counts, previous):
    total = sum(counts.values())
    return {t: c / total for (p, t), c in counts.items() if p == previous}
''',
        "divides by occurrences as second token": '''
def next_token_distribution(counts, previous):
    total = sum(c for (p, t), c in counts.items() if t == previous)
    return {t: c / total for (p, t), c in counts.items() if p == previous}
''',
        "returns counts": '''
def next_token_distribution(counts, previous):
    out = {t: c for (p, t), c in counts.items() if p == previous}
    if not out:
        raise ValueError(previous)
    return out
''',
        "silent on unseen token": '''
def next_token_distribution(counts, previous):
    f = {t: c for (p, t), c in counts.items() if p == previous}
    total = sum(f.values()) or 1
    return {t: c / total for t, c in f.items()}
''',
    },
    "ex3_sample_token": {
        "insertion order": '''
def sample_token(distribution, u):
    if not 0 <= u < 1:
        raise ValueError(u)
    cum = 0.0
    for tok, p in distribution.items():
        cum += p
        if cum > u:
            return tok
''',
        ">= instead of >": '''
def sample_token(distribution, u):
    if not 0 <= u < 1:
        raise ValueError(u)
    cum = 0.0
    for tok in sorted(distribution):
        cum += distribution[tok]
        if cum >= u:
            return tok
''',
        "argmax": '''
def sample_token(distribution, u):
    return max(sorted(distribution), key=distribution.get)
''',
        "no range check": '''
def sample_token(distribution, u):
    cum = 0.0
    for tok in sorted(distribution):
        cum += distribution[tok]
        if cum > u:
            return tok
    return sorted(distribution)[-1]
''',
        "calls the package": '''
from genai_course.classic.ngram import sample_index
def sample_token(distribution, u):
    tokens = sorted(distribution)
    return tokens[sample_index([distribution[t] for t in tokens], u)]
''',
    },
    "ex4_apply_temperature": {
        "p ** T": '''
def apply_temperature(distribution, temperature):
    if temperature <= 0:
        raise ValueError(temperature)
    w = {t: p ** temperature for t, p in distribution.items()}
    z = sum(w.values())
    return {t: v / z for t, v in w.items()}
''',
        "divides probabilities by T": '''
def apply_temperature(distribution, temperature):
    if temperature <= 0:
        raise ValueError(temperature)
    w = {t: p / temperature for t, p in distribution.items()}
    z = sum(w.values())
    return {t: v / z for t, v in w.items()}
''',
        "softmax of probabilities": '''
import math
def apply_temperature(distribution, temperature):
    if temperature <= 0:
        raise ValueError(temperature)
    w = {t: math.exp(p / temperature) for t, p in distribution.items()}
    z = sum(w.values())
    return {t: v / z for t, v in w.items()}
''',
        "not normalised": '''
def apply_temperature(distribution, temperature):
    if temperature <= 0:
        raise ValueError(temperature)
    return {t: p ** (1 / temperature) for t, p in distribution.items()}
''',
        "calls the package": '''
from genai_course.classic.ngram import apply_temperature as _pkg
def apply_temperature(distribution, temperature):
    tokens = list(distribution)
    return dict(zip(tokens, map(float, _pkg([distribution[t] for t in tokens], temperature))))
''',
    },
    "ex5_perplexity": {
        "forgets </s>": '''
import math
def perplexity(bigram_probs, sentences):
    s, n = 0.0, 0
    for sent in sentences:
        padded = ["<s>"] + list(sent)
        for pair in zip(padded[:-1], padded[1:]):
            p = bigram_probs.get(pair, 0.0)
            if p == 0:
                return math.inf
            s += math.log(p)
            n += 1
    return math.exp(-s / n)
''',
        "averages per-sentence perplexities": '''
import math
def perplexity(bigram_probs, sentences):
    out = []
    for sent in sentences:
        padded = ["<s>"] + list(sent) + ["</s>"]
        s = 0.0
        for pair in zip(padded[:-1], padded[1:]):
            p = bigram_probs.get(pair, 0.0)
            if p == 0:
                return math.inf
            s += math.log(p)
        out.append(math.exp(-s / (len(padded) - 1)))
    return sum(out) / len(out)
''',
        "log2 with exp": '''
import math
def perplexity(bigram_probs, sentences):
    s, n = 0.0, 0
    for sent in sentences:
        padded = ["<s>"] + list(sent) + ["</s>"]
        for pair in zip(padded[:-1], padded[1:]):
            p = bigram_probs.get(pair, 0.0)
            if p == 0:
                return math.inf
            s += math.log2(p)
            n += 1
    return math.exp(-s / n)
''',
        "counts <s> as predicted": '''
import math
def perplexity(bigram_probs, sentences):
    s, n = 0.0, 0
    for sent in sentences:
        padded = ["<s>"] + list(sent) + ["</s>"]
        for pair in zip(padded[:-1], padded[1:]):
            p = bigram_probs.get(pair, 0.0)
            if p == 0:
                return math.inf
            s += math.log(p)
        n += len(padded)
    return math.exp(-s / n)
''',
    },
    "ex6_doubling_time": {
        "natural log": '''
import numpy as np
def doubling_time(years, params):
    slope = np.polyfit(np.asarray(years, float), np.log(np.asarray(params, float)), 1)[0]
    return float(1 / slope)
''',
        "end points only": '''
import math
def doubling_time(years, params):
    return float((years[-1] - years[0]) / math.log2(params[-1] / params[0]))
''',
        "returns the slope": '''
import numpy as np
def doubling_time(years, params):
    return float(np.polyfit(np.asarray(years, float), np.log2(np.asarray(params, float)), 1)[0])
''',
        "numpy float": '''
import numpy as np
def doubling_time(years, params):
    return 1 / np.polyfit(np.asarray(years, float), np.log2(np.asarray(params, float)), 1)[0]
''',
        "calls the package": '''
from genai_course.classic.growth import fit_doubling_time
def doubling_time(years, params):
    return float(fit_doubling_time(list(years), list(params)).doubling_time)
''',
    },
}

# Calling the reference versions that the chapter's demo cells fall back to earns nothing.
for _grade_id, _module, _name in [
    ("ex1_count_bigrams", "bigram", "count_bigrams"),
    ("ex2_next_token_distribution", "bigram", "next_token_distribution"),
    ("ex3_sample_token", "bigram", "sample_token"),
    ("ex4_apply_temperature", "bigram", "apply_temperature"),
    ("ex5_perplexity", "bigram", "perplexity"),
    ("ex6_doubling_time", "growth", "doubling_time"),
]:
    WRONG_ANSWERS[_grade_id]["calls the package's reference version"] = (
        f"from genai_course.classic.{_module} import {_name} as _reference\n"
        f"def {_name}(*args):\n    return _reference(*args)\n"
    )
