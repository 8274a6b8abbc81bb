"""Evaluating generated code by running it: pass@k, small problems, a sandboxed runner.

* :func:`pass_at_k` -- the unbiased estimator of Chen et al., "Evaluating Large Language Models
  Trained on Code" (2021, eq. 1 and its numerically stable product form, figure 3): the
  probability that at least one of k samples, drawn without replacement from n samples of
  which c are correct, is correct. :func:`pass_at_k_biased` is the tempting plug-in
  ``1 - (1 - c/n)^k``, which underestimates it.
* :data:`PROBLEMS` -- small programming problems in HumanEval's shape: a signature with a
  docstring, hidden unit tests, and a reference solution.
* :func:`run_tests` -- a program and its tests run in a separate Python process with a
  wall-clock limit and operating-system resource limits (CPU seconds, memory, file size,
  open files), in an empty temporary folder; the result is a status, never an exception.
* :class:`BuggyCoder` -- a stand-in code model: it writes each problem's reference solution or
  one of its plausible slips (off-by-one, a wrong operator, a missing case, an endless loop, a
  memory blow-up), sampling with a temperature, so that pass@k has something to measure with
  known true values until a trained model writes the programs.

Used in: chapter 8.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from genai_course.core.checks import check_int, check_number


def _counts(n: object, c: object, k: object) -> tuple[int, int, int]:
    n, c, k = check_int(n, "n", 1), check_int(c, "c"), check_int(k, "k", 1)
    if c > n:
        raise ValueError(f"c (correct samples) cannot exceed n (samples): c={c}, n={n}")
    if k > n:
        raise ValueError(f"k cannot exceed n (samples drawn without replacement): k={k}, n={n}")
    return n, c, k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct (Chen et al. 2021):
    ``1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i)``; 1 when
    ``n - c < k`` (every choice of k samples contains a correct one)."""
    n, c, k = _counts(n, c, k)
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def pass_at_k_biased(n: int, c: int, k: int) -> float:
    """The plug-in estimate ``1 - (1 - c/n)^k``: it treats the k draws as independent with
    replacement. It is biased low (by Jensen's inequality, and it ignores that k distinct
    samples see more of the n); shown for comparison only."""
    n, c, k = _counts(n, c, k)
    return 1.0 - (1.0 - c / n) ** k


@dataclass(frozen=True)
class CodeProblem:
    """A HumanEval-style problem: ``prompt`` (signature and docstring) for the model,
    ``solution`` (a reference body), ``tests`` (assert statements over ``entry_point``)."""

    name: str
    entry_point: str
    prompt: str
    solution: str
    tests: str
    #: Plausible wrong bodies a code model writes: label -> body.
    slips: dict[str, str] = field(default_factory=dict)

    def program(self, body: str | None = None) -> str:
        """The prompt followed by ``body`` (the reference solution by default)."""
        return self.prompt + (self.solution if body is None else body)


def _problem(name: str, signature: str, doc: str, solution: str, tests: str,
             slips: dict[str, str]) -> CodeProblem:
    entry = signature.split("(")[0]
    prompt = f'def {signature}:\n    """{doc}"""\n'
    return CodeProblem(name, entry, prompt, solution, tests, slips)


_ENDLESS = "    while True:\n        pass\n"
_HOG = "    hog = [0] * (10 ** 10)\n    return hog\n"

#: Eight small problems in HumanEval's format (written for this course).
PROBLEMS: tuple[CodeProblem, ...] = (
    _problem(
        "sum_to", "sum_to(n)", "Return 1 + 2 + ... + n (0 for n <= 0).",
        "    return sum(range(1, n + 1))\n",
        "assert sum_to(0) == 0\nassert sum_to(1) == 1\nassert sum_to(10) == 55\n"
        "assert sum_to(-3) == 0\n",
        {"off by one (stops at n - 1)": "    return sum(range(1, n))\n",
         "closed form without the n <= 0 case": "    return n * (n + 1) // 2\n",
         "endless loop": _ENDLESS}),
    _problem(
        "count_vowels", "count_vowels(text)",
        "Return how many of the letters in text are vowels (a, e, i, o, u; any case).",
        "    return sum(ch in 'aeiouAEIOU' for ch in text)\n",
        "assert count_vowels('') == 0\nassert count_vowels('hello') == 2\n"
        "assert count_vowels('AEIOU xyz') == 5\nassert count_vowels('rhythm') == 0\n",
        {"lower case only": "    return sum(ch in 'aeiou' for ch in text)\n",
         "counts 'y' too": "    return sum(ch in 'aeiouyAEIOUY' for ch in text)\n"}),
    _problem(
        "second_largest", "second_largest(numbers)",
        "Return the second largest distinct value of a list with at least two distinct values.",
        "    return sorted(set(numbers))[-2]\n",
        "assert second_largest([1, 2]) == 1\nassert second_largest([5, 5, 4]) == 4\n"
        "assert second_largest([3, 9, 7, 9]) == 7\nassert second_largest([-1, -5, -3]) == -3\n",
        {"duplicates not removed": "    return sorted(numbers)[-2]\n",
         "second smallest": "    return sorted(set(numbers))[1]\n"}),
    _problem(
        "is_palindrome", "is_palindrome(text)",
        "Return True if text reads the same backwards, ignoring case and spaces.",
        "    s = text.replace(' ', '').lower()\n    return s == s[::-1]\n",
        "assert is_palindrome('')\nassert is_palindrome('Never odd or even')\n"
        "assert not is_palindrome('abca')\nassert is_palindrome('Aba')\n",
        {"case sensitive": "    s = text.replace(' ', '')\n    return s == s[::-1]\n",
         "spaces kept": "    s = text.lower()\n    return s == s[::-1]\n"}),
    _problem(
        "running_max", "running_max(numbers)",
        "Return the list whose i-th entry is the largest of numbers[0..i].",
        "    out = []\n    for x in numbers:\n"
        "        out.append(x if not out else max(out[-1], x))\n    return out\n",
        "assert running_max([]) == []\nassert running_max([3, 1, 4, 1, 5]) == [3, 3, 4, 4, 5]\n"
        "assert running_max([-2, -3]) == [-2, -2]\n",
        {"starts from 0 (wrong for negatives)":
             "    out, best = [], 0\n    for x in numbers:\n        best = max(best, x)\n"
             "        out.append(best)\n    return out\n",
         "memory blow-up": _HOG}),
    _problem(
        "fizzbuzz", "fizzbuzz(n)",
        "Return 'FizzBuzz' if n is divisible by 15, 'Fizz' by 3, 'Buzz' by 5, else str(n).",
        "    if n % 15 == 0:\n        return 'FizzBuzz'\n"
        "    if n % 3 == 0:\n        return 'Fizz'\n"
        "    if n % 5 == 0:\n        return 'Buzz'\n    return str(n)\n",
        "assert fizzbuzz(1) == '1'\nassert fizzbuzz(9) == 'Fizz'\nassert fizzbuzz(10) == 'Buzz'\n"
        "assert fizzbuzz(30) == 'FizzBuzz'\n",
        {"15 checked last":
             "    if n % 3 == 0:\n        return 'Fizz'\n"
             "    if n % 5 == 0:\n        return 'Buzz'\n"
             "    if n % 15 == 0:\n        return 'FizzBuzz'\n    return str(n)\n",
         "returns the number, not a string":
             "    if n % 15 == 0:\n        return 'FizzBuzz'\n    if n % 3 == 0:\n"
             "        return 'Fizz'\n    if n % 5 == 0:\n        return 'Buzz'\n    return n\n"}),
    _problem(
        "gcd", "gcd(a, b)", "Return the greatest common divisor of two positive integers.",
        "    while b:\n        a, b = b, a % b\n    return a\n",
        "assert gcd(12, 18) == 6\nassert gcd(7, 13) == 1\nassert gcd(10, 10) == 10\n"
        "assert gcd(1, 5) == 1\n",
        {"subtracts the wrong way (loops forever)":
             "    while a != b:\n        a = a - b if a > b else a + b\n    return a\n",
         "returns the smaller number": "    return min(a, b)\n"}),
    _problem(
        "word_lengths", "word_lengths(sentence)",
        "Return the lengths of the words of sentence (words are separated by spaces).",
        "    return [len(w) for w in sentence.split()]\n",
        "assert word_lengths('') == []\nassert word_lengths('a bb ccc') == [1, 2, 3]\n"
        "assert word_lengths('  two  spaces ') == [3, 6]\n",
        {"split(' ') keeps empty words": "    return [len(w) for w in sentence.split(' ')]\n",
         "counts characters": "    return len(sentence)\n"}),
)


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run_tests`: ``status`` is ``"passed"``, ``"failed"`` (an
    assertion or another exception), ``"timeout"`` or ``"killed"`` (a resource limit);
    ``detail`` is the end of the error output."""

    status: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _limits(cpu_seconds: int, memory_mb: int) -> str:
    """Python code that caps the running process's CPU time, address space, file size and
    open files (the kernel enforces them), where the ``resource`` module exists (POSIX).
    It runs first in the child, before the program (a ``preexec_fn`` would not be safe
    while threads run programs in parallel)."""
    mem = memory_mb * 2**20
    return (
        "try:\n    import resource as _r\nexcept ImportError:\n    _r = None\n"
        "if _r is not None:\n"
        f"    _r.setrlimit(_r.RLIMIT_CPU, ({cpu_seconds}, {cpu_seconds}))\n"
        f"    _r.setrlimit(_r.RLIMIT_AS, ({mem}, {mem}))\n"
        "    _r.setrlimit(_r.RLIMIT_FSIZE, (2 ** 20, 2 ** 20))\n"
        "    _r.setrlimit(_r.RLIMIT_NOFILE, (64, 64))\n"
        "    _r.setrlimit(_r.RLIMIT_CORE, (0, 0))\n"
        "del _r\n"
    )


def run_tests(program: str, tests: str, timeout: float = 2.0, memory_mb: int = 512
              ) -> RunResult:
    """Run ``program`` then ``tests`` in a fresh, isolated Python process (``python -I``,
    an empty temporary working folder, no inherited environment but ``PATH``) under a
    ``timeout`` in wall-clock seconds and, on POSIX systems, resource limits (CPU seconds,
    ``memory_mb`` of address space, 1 MB files, 64 open files). The whole process group is
    killed on a timeout. This is a test harness, not a security boundary: run untrusted
    code from the internet in a container or a virtual machine."""
    import time

    if not isinstance(program, str) or not isinstance(tests, str):
        raise TypeError("program and tests must be str")
    timeout = check_number(timeout, "timeout", positive=True)
    memory_mb = check_int(memory_mb, "memory_mb", 64)
    posix = os.name == "posix"
    source = _limits(math.ceil(timeout) + 1, memory_mb) + program + "\n\n" + tests + "\n"
    with tempfile.TemporaryDirectory(prefix="genai-course-run-") as folder:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", source], cwd=folder, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={"PATH": os.environ.get("PATH", "")},
            start_new_session=posix,
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            if posix:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.communicate()
            return RunResult("timeout", f"still running after {timeout:g} s",
                             time.perf_counter() - start)
    seconds = time.perf_counter() - start
    tail = err.strip().splitlines()[-1] if err.strip() else ""
    if proc.returncode == 0:
        return RunResult("passed", "", seconds)
    if proc.returncode < 0 or "MemoryError" in tail:
        return RunResult("killed", tail or f"killed by signal {-proc.returncode}", seconds)
    return RunResult("failed", tail, seconds)


def run_samples(problem: CodeProblem, programs: Sequence[str], timeout: float = 2.0,
                memory_mb: int = 512, cache: dict[str, RunResult] | None = None,
                workers: int = 4) -> list[RunResult]:
    """:func:`run_tests` of each program against ``problem.tests``, ``workers`` processes at
    a time. Identical programs run once (the tests are deterministic), remembered in
    ``cache`` across calls."""
    from concurrent.futures import ThreadPoolExecutor

    cache = {} if cache is None else cache
    keys = [program + "\0" + problem.tests for program in programs]
    todo = list(dict.fromkeys(k for k in keys if k not in cache))
    with ThreadPoolExecutor(max_workers=check_int(workers, "workers", 1)) as pool:
        done = pool.map(lambda k: run_tests(k.split("\0")[0], problem.tests, timeout, memory_mb),
                        todo)
        cache.update(zip(todo, done, strict=True))
    return [cache[k] for k in keys]


class BuggyCoder:
    """A stand-in code model with a temperature (see the module docstring).

    For problem ``i`` it chooses among the reference body and the problem's slips with
    probabilities ``softmax(logits / temperature)``, where the reference's logit exceeds each
    slip's by ``margins[i]``: a positive margin is a problem the model "knows" (its greedy
    answer is right), a negative one a problem where its favourite answer is a slip.
    Temperature 0 is greedy (a tie among slips is broken at random). The probability that a
    sample is correct is known exactly (:meth:`p_correct`), so estimates can be checked."""

    def __init__(self, margins: Sequence[float], seed: int = 0) -> None:
        if len(margins) != len(PROBLEMS):
            raise ValueError(f"need one margin per problem ({len(PROBLEMS)}), got {len(margins)}")
        self.margins = [float(m) for m in margins]
        self.rng = random.Random(seed)

    def p_correct(self, index: int, temperature: float) -> float:
        """The exact probability that a sample for problem ``index`` is correct."""
        m, slips = self.margins[index], len(PROBLEMS[index].slips)
        if temperature == 0:
            return 1.0 if m > 0 else 0.0
        return 1.0 / (1.0 + slips * math.exp(-m / temperature))

    def programs(self, index: int, n: int, temperature: float = 1.0) -> list[str]:
        """``n`` complete programs (prompt + body) for ``PROBLEMS[index]``."""
        check_number(temperature, "temperature")
        problem = PROBLEMS[index]
        slips = list(problem.slips.values())
        p = self.p_correct(index, temperature)
        return [problem.program(None if self.rng.random() < p else self.rng.choice(slips))
                for _ in range(check_int(n, "n"))]
