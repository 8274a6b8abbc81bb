"""Wrong answers to Chapter 9's exercises, keyed by the answer cell's grade_id."""

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_bm25_weight": {
        "classic Robertson-Sparck Jones IDF (negative for common terms)": '''
def bm25_weight(tf, df, doc_len, avg_doc_len, n_docs, k1=1.5, b=0.75):
    if tf == 0:
        return 0.0
    idf = math.log((n_docs - df + 0.5) / (df + 0.5))
    return float(idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_doc_len)))
''',
        "no (k1 + 1) factor": '''
def bm25_weight(tf, df, doc_len, avg_doc_len, n_docs, k1=1.5, b=0.75):
    if tf == 0:
        return 0.0
    idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    return float(idf * tf / (tf + k1 * (1 - b + b * doc_len / avg_doc_len)))
''',
        "length ratio inverted": '''
def bm25_weight(tf, df, doc_len, avg_doc_len, n_docs, k1=1.5, b=0.75):
    if tf == 0:
        return 0.0
    idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    return float(idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * avg_doc_len / doc_len)))
''',
        "b multiplies the whole normaliser": '''
def bm25_weight(tf, df, doc_len, avg_doc_len, n_docs, k1=1.5, b=0.75):
    if tf == 0:
        return 0.0
    idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    return float(idf * tf * (k1 + 1) / (tf + k1 * b * doc_len / avg_doc_len))
''',
        "calls the package": '''
from genai_course.applications.retrieval import bm25_term_weight
def bm25_weight(tf, df, doc_len, avg_doc_len, n_docs, k1=1.5, b=0.75):
    return bm25_term_weight(tf, df, doc_len, avg_doc_len, n_docs, k1, b)
''',
    },
    "ex2_recall_at_k": {
        "precision (divides by k)": '''
def recall_at_k(ranked, relevant, k):
    if k < 1 or not relevant:
        raise ValueError("bad input")
    return len(set(relevant) & set(ranked[:k])) / k
''',
        "off by one (top k + 1)": '''
def recall_at_k(ranked, relevant, k):
    if k < 1 or not relevant:
        raise ValueError("bad input")
    return len(set(relevant) & set(ranked[:k + 1])) / len(set(relevant))
''',
        "hit rate (1 if any relevant item is found)": '''
def recall_at_k(ranked, relevant, k):
    if k < 1 or not relevant:
        raise ValueError("bad input")
    return float(bool(set(relevant) & set(ranked[:k])))
''',
        "no input checks": '''
def recall_at_k(ranked, relevant, k):
    relevant = set(relevant)
    return len(relevant & set(ranked[:k])) / max(len(relevant), 1)
''',
        "calls the package": '''
from genai_course.applications import retrieval
def recall_at_k(ranked, relevant, k):
    return retrieval.recall_at_k(ranked, relevant, k)
''',
    },
    "ex3_rag_prompt": {
        "stops at the first passage that does not fit": '''
def build_rag_prompt(question, passages, budget):
    def prompt(kept):
        return "Context:\\n" + "\\n".join(kept) + "\\nQuestion: " + question
    if len(prompt([])) > budget:
        raise ValueError("too long")
    kept = []
    for passage in passages:
        if len(prompt(kept + [passage])) > budget:
            break
        kept.append(passage)
    return prompt(kept)
''',
        "counts only the passages, not the header and question": '''
def build_rag_prompt(question, passages, budget):
    kept, used = [], 0
    for passage in passages:
        if used + len(passage) <= budget:
            kept.append(passage)
            used += len(passage)
    return "Context:\\n" + "\\n".join(kept) + "\\nQuestion: " + question
''',
        "shortest passages first (rank order lost)": '''
def build_rag_prompt(question, passages, budget):
    def prompt(kept):
        return "Context:\\n" + "\\n".join(kept) + "\\nQuestion: " + question
    if len(prompt([])) > budget:
        raise ValueError("too long")
    kept = []
    for passage in sorted(passages, key=len):
        if len(prompt(kept + [passage])) <= budget:
            kept.append(passage)
    return prompt(kept)
''',
        "forgets the newline between passages": '''
def build_rag_prompt(question, passages, budget):
    base = len("Context:\\n" + "\\nQuestion: " + question)
    if base > budget:
        raise ValueError("too long")
    kept, used = [], base
    for passage in passages:
        if used + len(passage) <= budget:
            kept.append(passage)
            used += len(passage)
    return "Context:\\n" + "\\n".join(kept) + "\\nQuestion: " + question
''',
        "calls the package": '''
from genai_course.applications.rag import build_rag_prompt as _build
def build_rag_prompt(question, passages, budget):
    return _build(question, passages, budget)
''',
    },
    "ex4_shortest_path": {
        "diagonal moves allowed": '''
from collections import deque
def shortest_path(level):
    find = lambda ch: [(r, c) for r, row in enumerate(level) for c, x in enumerate(row) if x == ch]
    if len(find("S")) != 1 or len(find("G")) != 1:
        raise ValueError("need one S and one G")
    start, goal = find("S")[0], find("G")[0]
    dist, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        if (r, c) == goal:
            return dist[(r, c)]
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                nr, nc = r + dr, c + dc
                inside = 0 <= nr < len(level) and 0 <= nc < len(level[0])
                if inside and level[nr][nc] != "#" and (nr, nc) not in dist:
                    dist[(nr, nc)] = dist[(r, c)] + 1
                    queue.append((nr, nc))
    return -1
''',
        "negative indices wrap around the grid": '''
from collections import deque
def shortest_path(level):
    find = lambda ch: [(r, c) for r, row in enumerate(level) for c, x in enumerate(row) if x == ch]
    if len(find("S")) != 1 or len(find("G")) != 1:
        raise ValueError("need one S and one G")
    start, goal = find("S")[0], find("G")[0]
    dist, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        if (r, c) == goal:
            return dist[(r, c)]
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if nr < len(level) and nc < len(level[0]) and level[nr][nc] != "#":
                nr, nc = nr % len(level), nc % len(level[0])
                if (nr, nc) not in dist:
                    dist[(nr, nc)] = dist[(r, c)] + 1
                    queue.append((nr, nc))
    return -1
''',
        "depth-first search (a path, not the shortest)": '''
def shortest_path(level):
    find = lambda ch: [(r, c) for r, row in enumerate(level) for c, x in enumerate(row) if x == ch]
    if len(find("S")) != 1 or len(find("G")) != 1:
        raise ValueError("need one S and one G")
    start, goal = find("S")[0], find("G")[0]
    dist, stack = {start: 0}, [start]
    while stack:
        r, c = stack.pop()
        if (r, c) == goal:
            return dist[(r, c)]
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            inside = 0 <= nr < len(level) and 0 <= nc < len(level[0])
            if inside and level[nr][nc] != "#" and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                stack.append((nr, nc))
    return -1
''',
        "no check for missing or repeated S and G": '''
from collections import deque
def shortest_path(level):
    cells = [(r, c, x) for r, row in enumerate(level) for c, x in enumerate(row)]
    start = next((r, c) for r, c, x in cells if x == "S")
    goal = next(((r, c) for r, c, x in cells if x == "G"), None)
    dist, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        if (r, c) == goal:
            return dist[(r, c)]
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            inside = 0 <= nr < len(level) and 0 <= nc < len(level[0])
            if inside and level[nr][nc] != "#" and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return -1
''',
        "calls the package": '''
from genai_course.applications.levels import shortest_path as _path
def shortest_path(level):
    return _path(level)
''',
    },
    "ex5_pitch_histogram": {
        "counts notes instead of weighting by duration": '''
def pitch_class_histogram(melody):
    hist = np.zeros(12)
    for pitch, duration in melody:
        if pitch is not None:
            hist[pitch % 12] += 1
    if hist.sum() == 0:
        raise ValueError("no sounding note")
    return hist / hist.sum()
''',
        "octave instead of pitch class (pitch // 12)": '''
def pitch_class_histogram(melody):
    hist = np.zeros(12)
    for pitch, duration in melody:
        if pitch is not None:
            hist[(pitch // 12) % 12] += duration
    if hist.sum() == 0:
        raise ValueError("no sounding note")
    return hist / hist.sum()
''',
        "rests counted in the total": '''
def pitch_class_histogram(melody):
    hist = np.zeros(12)
    total = 0
    for pitch, duration in melody:
        total += duration
        if pitch is not None:
            hist[pitch % 12] += duration
    if hist.sum() == 0:
        raise ValueError("no sounding note")
    return hist / total
''',
        "returns a list": '''
def pitch_class_histogram(melody):
    hist = [0.0] * 12
    for pitch, duration in melody:
        if pitch is not None:
            hist[pitch % 12] += duration
    total = sum(hist)
    if total == 0:
        raise ValueError("no sounding note")
    return [h / total for h in hist]
''',
        "calls the package": '''
from genai_course.applications import music
def pitch_class_histogram(melody):
    return music.pitch_class_histogram(melody)
''',
    },
    "ex6_cost_per_million": {
        "multiplies by the utilization": '''
def cost_per_million_tokens(tokens_per_second, price_per_hour, utilization=1.0):
    return float(price_per_hour * utilization / (tokens_per_second * 3600) * 1e6)
''',
        "ignores the utilization": '''
def cost_per_million_tokens(tokens_per_second, price_per_hour, utilization=1.0):
    return float(price_per_hour / (tokens_per_second * 3600) * 1e6)
''',
        "per minute instead of per hour": '''
def cost_per_million_tokens(tokens_per_second, price_per_hour, utilization=1.0):
    return float(price_per_hour / (tokens_per_second * 60 * utilization) * 1e6)
''',
        "per thousand tokens": '''
def cost_per_million_tokens(tokens_per_second, price_per_hour, utilization=1.0):
    return float(price_per_hour / (tokens_per_second * 3600 * utilization) * 1e3)
''',
        "calls the package": '''
from genai_course.applications.costs import cost_per_million_tokens as _cost
def cost_per_million_tokens(tokens_per_second, price_per_hour, utilization=1.0):
    return _cost(tokens_per_second, price_per_hour, utilization)
''',
    },
}
