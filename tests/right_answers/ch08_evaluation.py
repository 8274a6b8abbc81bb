"""Alternative correct answers to Chapter 8's exercises, keyed by the answer cell's grade_id;
each must earn full points."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_corpus_precision": {
        "plain dicts and loops": '''
def corpus_precision(hypotheses, references, n):
    clipped = total = 0
    for hyp, refs in zip(hypotheses, references):
        hyp_counts = {}
        for i in range(len(hyp) - n + 1):
            g = tuple(hyp[i:i + n])
            hyp_counts[g] = hyp_counts.get(g, 0) + 1
        for g, count in hyp_counts.items():
            best = 0
            for ref in refs:
                in_ref = sum(1 for j in range(len(ref) - n + 1) if tuple(ref[j:j + n]) == g)
                best = max(best, in_ref)
            clipped += min(count, best)
        total += sum(hyp_counts.values())
    return clipped, total
''',
        "Counter union (max) and intersection (min), zip for the n-grams": '''
def corpus_precision(hypotheses, references, n):
    def grams(tokens):
        return Counter(zip(*[tokens[i:] for i in range(n)]))
    pairs = []
    for hyp, refs in zip(hypotheses, references):
        most = Counter()
        for ref in refs:
            most |= grams(ref)
        pairs.append((sum((grams(hyp) & most).values()), sum(grams(hyp).values())))
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)
''',
    },
    "ex2_corpus_brevity_penalty": {
        "explicit loops for the closest length": '''
def corpus_brevity_penalty(hypotheses, references):
    c = r = 0
    for hyp, refs in zip(hypotheses, references):
        c += len(hyp)
        best = None
        for ref in refs:
            gap = abs(len(ref) - len(hyp))
            if best is None or gap < best[0] or (gap == best[0] and len(ref) < best[1]):
                best = (gap, len(ref))
        r += best[1]
    if c == 0:
        return 0.0
    return 1.0 if c > r else math.exp(1 - r / c)
''',
        "NumPy: lexsort on (length, distance)": '''
def corpus_brevity_penalty(hypotheses, references):
    c, r = 0, 0
    for hyp, refs in zip(hypotheses, references):
        lengths = np.array([len(x) for x in refs])
        order = np.lexsort((lengths, np.abs(lengths - len(hyp))))
        c, r = c + len(hyp), r + int(lengths[order[0]])
    return float(min(1.0, math.exp(1 - r / c))) if c else 0.0
''',
    },
    "ex3_rouge_l": {
        "memoised recursion": '''
import functools

def rouge_l(hypothesis, reference):
    a, b = tuple(hypothesis), tuple(reference)

    @functools.lru_cache(maxsize=None)
    def lcs(i, j):
        if i == len(a) or j == len(b):
            return 0
        if a[i] == b[j]:
            return 1 + lcs(i + 1, j + 1)
        return max(lcs(i + 1, j), lcs(i, j + 1))

    best = lcs(0, 0)
    p = best / len(a) if a else 0.0
    r = best / len(b) if b else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
''',
        "one row of the table at a time": '''
def rouge_l(hypothesis, reference):
    prev = [0] * (len(reference) + 1)
    for x in hypothesis:
        cur = [0]
        for j, y in enumerate(reference, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    best = prev[-1]
    p = best / len(hypothesis) if hypothesis else 0.0
    r = best / len(reference) if reference else 0.0
    f1 = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    return {"precision": float(p), "recall": float(r), "f1": float(f1)}
''',
    },
    "ex4_frechet_distance": {
        "SciPy's sqrtm of the product, real part": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    import scipy.linalg
    s1, s2 = sigma1.numpy(), sigma2.numpy()
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    diff = (mu1 - mu2).numpy()
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
''',
        "eigenvalues of the product S1 S2 (real and non-negative)": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    eig = np.linalg.eigvals((sigma1 @ sigma2).numpy()).real.clip(min=0)
    total = float(((mu1 - mu2) ** 2).sum() + sigma1.trace() + sigma2.trace())
    return total - 2 * float(np.sqrt(eig).sum())
''',
        "square root of S2, then S2^1/2 S1 S2^1/2": '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    w, v = np.linalg.eigh(sigma2.numpy())
    root = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvalsh(root @ sigma1.numpy() @ root)
    mean_term = float(torch.sum((mu1 - mu2) ** 2))
    traces = float(torch.trace(sigma1) + torch.trace(sigma2))
    return mean_term + traces - 2 * float(np.sqrt(np.clip(lam, 0, None)).sum())
''',
    },
    "ex5_pass_at_k": {
        "exact integers with math.comb": '''
def pass_at_k(n, c, k):
    if c > n or k > n:
        raise ValueError("need c <= n and k <= n")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
''',
        "NumPy product form": '''
def pass_at_k(n, c, k):
    if not (c <= n and k <= n):
        raise ValueError(f"impossible counts n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
''',
        "exact fractions": '''
from fractions import Fraction

def pass_at_k(n, c, k):
    if c > n or k > n:
        raise ValueError("c and k cannot exceed n")
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))
''',
    },
    "ex6_bradley_terry_step": {
        "loops over players": '''
def bradley_terry_step(theta, wins):
    m = len(theta)
    shift = max(theta)
    p = [math.exp(t - shift) for t in theta]
    new = np.zeros(m)
    for i in range(m):
        den = sum((wins[i, j] + wins[j, i]) / (p[i] + p[j]) for j in range(m) if j != i)
        new[i] = math.log(wins[i].sum()) - math.log(den)
    return new - new.mean()
''',
        "log space with logaddexp": '''
def bradley_terry_step(theta, wins):
    games = wins + wins.T
    with np.errstate(divide="ignore"):
        log_terms = np.log(games) - np.logaddexp(theta[:, None], theta[None, :])
    log_den = np.logaddexp.reduce(log_terms, axis=1)
    new = np.log(wins.sum(axis=1)) - log_den
    return new - new.mean()
''',
    },
}
