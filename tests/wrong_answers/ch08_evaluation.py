"""Wrong answers to Chapter 8's exercises, keyed by the answer cell's grade_id."""

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_corpus_precision": {
        "no clipping (every n-gram found in a reference counts in full)": '''
def corpus_precision(hypotheses, references, n):
    clipped = total = 0
    for hyp, refs in zip(hypotheses, references):
        grams = [tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1)]
        found = {tuple(r[i:i + n]) for r in refs for i in range(len(r) - n + 1)}
        clipped, total = clipped + sum(g in found for g in grams), total + len(grams)
    return clipped, total
''',
        "clipped to the counts summed over all references": '''
def corpus_precision(hypotheses, references, n):
    def counts(tokens):
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    clipped = total = 0
    for hyp, refs in zip(hypotheses, references):
        summed = Counter()
        for ref in refs:
            summed.update(counts(ref))
        clipped += sum(min(c, summed[g]) for g, c in counts(hyp).items())
        total += sum(counts(hyp).values())
    return clipped, total
''',
        "every hypothesis clipped against the whole corpus's references": '''
def corpus_precision(hypotheses, references, n):
    def counts(tokens):
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    most = Counter()
    for refs in references:
        for ref in refs:
            most |= counts(ref)
    clipped = sum(min(c, most[g]) for hyp in hypotheses for g, c in counts(hyp).items())
    return clipped, sum(sum(counts(h).values()) for h in hypotheses)
''',
        "denominator counts distinct n-grams": '''
def corpus_precision(hypotheses, references, n):
    def counts(tokens):
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    clipped = total = 0
    for hyp, refs in zip(hypotheses, references):
        most = Counter()
        for ref in refs:
            most |= counts(ref)
        clipped += sum(min(c, most[g]) for g, c in counts(hyp).items())
        total += len(counts(hyp))
    return clipped, total
''',
        "returns the ratio instead of the two counts": '''
def corpus_precision(hypotheses, references, n):
    def counts(tokens):
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    clipped = total = 0
    for hyp, refs in zip(hypotheses, references):
        most = Counter()
        for ref in refs:
            most |= counts(ref)
        clipped += sum(min(c, most[g]) for g, c in counts(hyp).items())
        total += sum(counts(hyp).values())
    return clipped / max(total, 1)
''',
        "calls the package": '''
from genai_course.evaluation import text_metrics as _tm
def corpus_precision(hypotheses, references, n):
    return _tm.corpus_precision(hypotheses, references, n)
''',
    },
    "ex2_corpus_brevity_penalty": {
        "shortest reference instead of the closest": '''
def corpus_brevity_penalty(hypotheses, references):
    c = sum(len(h) for h in hypotheses)
    r = sum(min(len(x) for x in refs) for refs in references)
    if c > r:
        return 1.0
    return 0.0 if c == 0 else math.exp(1 - r / c)
''',
        "a tie goes to the longer reference": '''
def corpus_brevity_penalty(hypotheses, references):
    c = sum(len(h) for h in hypotheses)
    r = sum(min((len(x) for x in refs), key=lambda L: (abs(L - len(h)), -L))
            for h, refs in zip(hypotheses, references))
    if c > r:
        return 1.0
    return 0.0 if c == 0 else math.exp(1 - r / c)
''',
        "penalty per sentence, then averaged": '''
def corpus_brevity_penalty(hypotheses, references):
    out = []
    for h, refs in zip(hypotheses, references):
        c = len(h)
        r = min((len(x) for x in refs), key=lambda L: (abs(L - c), L))
        out.append(1.0 if c > r else (0.0 if c == 0 else math.exp(1 - r / c)))
    return sum(out) / len(out)
''',
        "c and r swapped in the exponent": '''
def corpus_brevity_penalty(hypotheses, references):
    c = sum(len(h) for h in hypotheses)
    r = sum(min((len(x) for x in refs), key=lambda L: (abs(L - len(h)), L))
            for h, refs in zip(hypotheses, references))
    if c > r:
        return 1.0
    return 0.0 if c == 0 else math.exp(1 - c / r)
''',
        "calls the package": '''
from genai_course.evaluation import text_metrics as _tm
def corpus_brevity_penalty(hypotheses, references):
    return _tm.corpus_brevity_penalty(hypotheses, references)
''',
    },
    "ex3_rouge_l": {
        "longest common substring (contiguous) instead of subsequence": '''
def rouge_l(hypothesis, reference):
    best = 0
    for i in range(len(hypothesis)):
        for j in range(len(reference)):
            k = 0
            while (i + k < len(hypothesis) and j + k < len(reference)
                   and hypothesis[i + k] == reference[j + k]):
                k += 1
            best = max(best, k)
    p = best / len(hypothesis) if hypothesis else 0.0
    r = best / len(reference) if reference else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
''',
        "shared tokens in any order (multiset overlap)": '''
def rouge_l(hypothesis, reference):
    common = sum((Counter(hypothesis) & Counter(reference)).values())
    p = common / len(hypothesis) if hypothesis else 0.0
    r = common / len(reference) if reference else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
''',
        "precision and recall swapped": '''
def rouge_l(hypothesis, reference):
    m, n = len(hypothesis), len(reference)
    L = [[0] * (n + 1) for _ in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            L[i][j] = (L[i - 1][j - 1] + 1 if hypothesis[i - 1] == reference[j - 1]
                       else max(L[i - 1][j], L[i][j - 1]))
    p = L[m][n] / n if n else 0.0
    r = L[m][n] / m if m else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
''',
        "calls the package": '''
from genai_course.evaluation import text_metrics as _tm
def rouge_l(hypothesis, reference):
    return _tm.rouge_l(hypothesis, reference)
''',
    },
    "ex4_frechet_distance": {
        "forgets the trace term (means only)": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    return float((mu1 - mu2).square().sum())
''',
        "square root of the product's entries instead of its matrix square root": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    covmean = (sigma1 @ sigma2).clamp(min=0).sqrt()
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace()
                 - 2 * covmean.trace())
''',
        "tr(S1^1/2 S2^1/2): right only when the covariances commute": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    def root(a):
        w, v = torch.linalg.eigh(a)
        return (v * w.clamp(min=0).sqrt()) @ v.T
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace()
                 - 2 * (root(sigma1) @ root(sigma2)).trace())
''',
        "missing the factor 2": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    w, v = torch.linalg.eigh(sigma1)
    r1 = (v * w.clamp(min=0).sqrt()) @ v.T
    lam = torch.linalg.eigvalsh(r1 @ sigma2 @ r1).clamp(min=0)
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - lam.sqrt().sum())
''',
        "distance between the means not squared": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    w, v = torch.linalg.eigh(sigma1)
    r1 = (v * w.clamp(min=0).sqrt()) @ v.T
    lam = torch.linalg.eigvalsh(r1 @ sigma2 @ r1).clamp(min=0)
    return float((mu1 - mu2).norm() + sigma1.trace() + sigma2.trace() - 2 * lam.sqrt().sum())
''',
        "calls the package": '''
from genai_course.evaluation import image_metrics as _im
def frechet_distance(mu1, sigma1, mu2, sigma2):
    return _im.frechet_distance(mu1, sigma1, mu2, sigma2)
''',
    },
    "ex5_pass_at_k": {
        "the biased plug-in 1 - (1 - c/n)^k": '''
def pass_at_k(n, c, k):
    if c > n or k > n:
        raise ValueError("bad counts")
    return 1.0 - (1.0 - c / n) ** k
''',
        "floating-point binomials (overflow for large n)": '''
def pass_at_k(n, c, k):
    from scipy.special import comb
    if c > n or k > n:
        raise ValueError("bad counts")
    if n - c < k:
        return 1.0
    return float(1.0 - comb(n - c, k) / comb(n, k))
''',
        "product over the wrong range (off by one)": '''
def pass_at_k(n, c, k):
    if c > n or k > n:
        raise ValueError("bad counts")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c, n):
        prod *= 1.0 - k / i if i > 0 else 0.0
    return 1.0 - prod
''',
        "no input checks": '''
def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
''',
        "calls the package": '''
from genai_course.evaluation import code_eval as _ce
def pass_at_k(n, c, k):
    return _ce.pass_at_k(n, c, k)
''',
    },
    "ex6_bradley_terry_step": {
        "not recentred to mean 0": '''
def bradley_terry_step(theta, wins):
    p = np.exp(theta - theta.max())
    games = wins + wins.T
    return np.log(wins.sum(1)) - np.log((games / (p[:, None] + p[None, :])).sum(1))
''',
        "losses counted as wins": '''
def bradley_terry_step(theta, wins):
    p = np.exp(theta - theta.max())
    games = wins + wins.T
    new = np.log(wins.sum(0)) - np.log((games / (p[:, None] + p[None, :])).sum(1))
    return new - new.mean()
''',
        "only the games i won in the denominator": '''
def bradley_terry_step(theta, wins):
    p = np.exp(theta - theta.max())
    new = np.log(wins.sum(1)) - np.log((wins / (p[:, None] + p[None, :])).sum(1))
    return new - new.mean()
''',
        "players updated one after another (Gauss-Seidel), not all at once": '''
def bradley_terry_step(theta, wins):
    theta = theta.copy()
    games = wins + wins.T
    for i in range(len(theta)):
        p = np.exp(theta - theta.max())
        den = sum(games[i, j] / (p[i] + p[j]) for j in range(len(theta)) if j != i)
        theta[i] = np.log(wins[i].sum()) - np.log(den) + theta.max()
    return theta - theta.mean()
''',
        "overflows for large log-strengths": '''
def bradley_terry_step(theta, wins):
    p = np.exp(theta)
    games = wins + wins.T
    new = np.log(wins.sum(1)) - np.log((games / (p[:, None] + p[None, :])).sum(1))
    return new - new.mean()
''',
        "calls the package": '''
from genai_course.evaluation import preference as _pr
def bradley_terry_step(theta, wins):
    return _pr.bradley_terry_mm_step(theta, wins)
''',
    },
}
