"""Alternative correct answers to Chapter 9's exercises, keyed by the answer cell's grade_id:
each is written another way and must earn full points."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_bm25_weight": {
        "numpy, normaliser first": '''
def bm25_weight(tf, df, doc_len, avg_doc_len, n_docs, k1=1.5, b=0.75):
    norm = k1 * ((1 - b) + b * (doc_len / avg_doc_len))
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    return float(idf * (tf * (k1 + 1)) / (tf + norm))
''',
        "IDF as a ratio of logs": '''
def bm25_weight(tf, df, doc_len, avg_doc_len, n_docs, k1=1.5, b=0.75):
    idf = math.log((n_docs + 1) / (df + 0.5))  # 1 + (N - n + 0.5)/(n + 0.5) = (N + 1)/(n + 0.5)
    saturation = tf / (tf + k1 * (1 - b + b * doc_len / avg_doc_len))
    return idf * saturation * (k1 + 1)
''',
    },
    "ex2_recall_at_k": {
        "loop with a counter": '''
def recall_at_k(ranked, relevant, k):
    if k < 1:
        raise ValueError("k must be positive")
    if len(relevant) == 0:
        raise ValueError("no relevant items")
    found = 0
    for item in ranked[:k]:
        if item in relevant:
            found += 1
    return found / len(set(relevant))
''',
        "sum over the relevant items": '''
def recall_at_k(ranked, relevant, k):
    if not relevant or k <= 0:
        raise ValueError("relevant must be non-empty and k >= 1")
    top = set(ranked[:k])
    return sum(1 for r in relevant if r in top) / len(relevant)
''',
    },
    "ex3_rag_prompt": {
        "format string, tuple of kept passages": '''
def build_rag_prompt(question, passages, budget):
    make = lambda kept: "Context:\\n{}\\nQuestion: {}".format("\\n".join(kept), question)
    kept = ()
    if len(make(kept)) > budget:
        raise ValueError("question over budget")
    for passage in passages:
        trial = kept + (passage,)
        if len(make(trial)) <= budget:
            kept = trial
    return make(kept)
''',
        "running length instead of rebuilding the prompt": '''
def build_rag_prompt(question, passages, budget):
    head, tail = "Context:\\n", "\\nQuestion: " + question
    used = len(head) + len(tail)
    if used > budget:
        raise ValueError("budget too small for the question")
    chosen = []
    for p in passages:
        extra = len(p) + (1 if chosen else 0)  # a newline before every passage but the first
        if used + extra <= budget:
            chosen.append(p)
            used += extra
    return head + "\\n".join(chosen) + tail
''',
    },
    "ex4_shortest_path": {
        "frontier by frontier with sets": '''
def shortest_path(level):
    where = {}
    for r, row in enumerate(level):
        for c, x in enumerate(row):
            where.setdefault(x, []).append((r, c))
    if len(where.get("S", [])) != 1 or len(where.get("G", [])) != 1:
        raise ValueError("exactly one S and one G needed")
    goal = where["G"][0]
    seen, frontier, steps = set(where["S"]), set(where["S"]), 0
    while frontier:
        if goal in frontier:
            return steps
        nxt = set()
        for r, c in frontier:
            for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= nr < len(level) and 0 <= nc < len(level[nr]) and level[nr][nc] != "#":
                    if (nr, nc) not in seen:
                        seen.add((nr, nc))
                        nxt.add((nr, nc))
        frontier, steps = nxt, steps + 1
    return -1
''',
        "scipy shortest paths on a grid graph": '''
def shortest_path(level):
    from scipy.sparse import lil_matrix
    from scipy.sparse.csgraph import shortest_path as sp
    h, w = len(level), len(level[0])
    flat = "".join(level)
    if flat.count("S") != 1 or flat.count("G") != 1:
        raise ValueError("need one S and one G")
    graph = lil_matrix((h * w, h * w))
    for i, ch in enumerate(flat):
        if ch == "#":
            continue
        r, c = divmod(i, w)
        if c + 1 < w and flat[i + 1] != "#":
            graph[i, i + 1] = graph[i + 1, i] = 1
        if r + 1 < h and flat[i + w] != "#":
            graph[i, i + w] = graph[i + w, i] = 1
    d = sp(graph.tocsr(), unweighted=True, indices=flat.index("S"))[flat.index("G")]
    return -1 if np.isinf(d) else int(d)
''',
    },
    "ex5_pitch_histogram": {
        "numpy bincount": '''
def pitch_class_histogram(melody):
    notes = [(p, d) for p, d in melody if p is not None]
    if not notes:
        raise ValueError("only rests")
    classes = np.array([p % 12 for p, _ in notes])
    weights = np.array([d for _, d in notes], dtype=float)
    return np.bincount(classes, weights=weights, minlength=12) / weights.sum()
''',
        "collections.Counter": '''
def pitch_class_histogram(melody):
    from collections import Counter
    time_on = Counter()
    for pitch, duration in melody:
        if pitch is not None:
            time_on[pitch % 12] += duration
    total = sum(time_on.values())
    if total == 0:
        raise ValueError("nothing sounds")
    return np.array([time_on[i] / total for i in range(12)], dtype=np.float64)
''',
    },
    "ex6_cost_per_million": {
        "dollars per second first": '''
def cost_per_million_tokens(tokens_per_second, price_per_hour, utilization=1.0):
    dollars_per_busy_second = price_per_hour / 3600 / utilization
    return float(dollars_per_busy_second / tokens_per_second * 1e6)
''',
        "million tokens per paid hour": '''
def cost_per_million_tokens(tokens_per_second, price_per_hour, utilization=1.0):
    millions_per_hour = tokens_per_second * 60 * 60 * utilization / 10 ** 6
    return price_per_hour / millions_per_hour
''',
    },
}
