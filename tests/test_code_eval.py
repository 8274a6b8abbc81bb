"""pass@k against the closed form and enumeration; the problems' tests against their
reference solutions and slips, run for real in a limited subprocess."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from genai_course.evaluation.code_eval import (
    PROBLEMS,
    BuggyCoder,
    pass_at_k,
    pass_at_k_biased,
    run_samples,
    run_tests,
)


def test_pass_at_k_equals_the_closed_form():
    for n in range(1, 21):
        for c in range(n + 1):
            for k in range(1, n + 1):
                want = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
                assert pass_at_k(n, c, k) == pytest.approx(float(want), abs=1e-12)


def test_pass_at_k_equals_enumeration_of_every_k_subset():
    for n, c in [(5, 2), (6, 1), (7, 3), (8, 0), (8, 8)]:
        samples = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(samples, k))
            want = sum(any(s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)


def test_pass_at_k_is_stable_where_binomials_overflow_floats():
    n, c, k = 10_000, 5, 1_000
    assert math.comb(n, k) > 1e308  # float(comb) would overflow
    want = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(want), rel=1e-12)


def test_biased_estimator_is_below_the_unbiased_one():
    for n in range(2, 15):
        for c in range(1, n):
            assert pass_at_k_biased(n, c, 1) == pytest.approx(pass_at_k(n, c, 1))
            for k in range(2, n + 1):
                assert pass_at_k_biased(n, c, k) < pass_at_k(n, c, k)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError, match="c .* cannot exceed n"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError, match="k cannot exceed n"):
        pass_at_k(5, 1, 6)
    with pytest.raises(TypeError, match="k must be an int"):
        pass_at_k(5, 1, 1.5)


def test_every_reference_solution_passes_and_every_slip_fails():
    for problem in PROBLEMS:
        result = run_tests(problem.program(), problem.tests, timeout=5.0)
        assert result.passed, (problem.name, result)
        for label, body in problem.slips.items():
            result = run_tests(problem.program(body), problem.tests, timeout=1.0)
            assert not result.passed, (problem.name, label)


def test_runner_limits_time_memory_and_files():
    loop = run_tests("while True:\n    pass", "", timeout=0.5)
    assert loop.status == "timeout" and loop.seconds < 5
    hog = run_tests("x = bytearray(2 * 1024 ** 3)", "", memory_mb=256)
    assert hog.status == "killed"
    big_file = run_tests("open('f', 'w').write('x' * 4_000_000)", "")
    assert not big_file.passed
    failing = run_tests("def f():\n    return 1", "assert f() == 2, 'wrong value'")
    assert failing.status == "failed" and "wrong value" in failing.detail
    # the child sees neither the course's environment variables nor its working folder
    env = run_tests("import os", "assert 'PYTHONPATH' not in os.environ\n"
                    "assert os.listdir('.') == []")
    assert env.passed, env


def test_buggy_coder_correct_rate_is_the_stated_one():
    coder = BuggyCoder(margins=[0.5, -1.0] + [0.0] * (len(PROBLEMS) - 2), seed=0)
    for index, temperature in [(0, 1.0), (1, 0.5), (1, 2.0)]:
        slips = len(PROBLEMS[index].slips)
        want = math.exp(coder.margins[index] / temperature) / (
            math.exp(coder.margins[index] / temperature) + slips)  # softmax, written out
        assert coder.p_correct(index, temperature) == pytest.approx(want)
        programs = coder.programs(index, 3000, temperature)
        share = sum(p == PROBLEMS[index].program() for p in programs) / len(programs)
        assert share == pytest.approx(want, abs=0.03)
    assert coder.programs(0, 5, temperature=0.0) == [PROBLEMS[0].program()] * 5  # greedy, right
    assert PROBLEMS[1].program() not in coder.programs(1, 20, temperature=0.0)  # greedy, a slip


def test_run_samples_runs_each_distinct_program_once():
    problem = PROBLEMS[0]
    right, wrong = problem.program(), problem.program(problem.slips["off by one (stops at n - 1)"])
    cache: dict = {}
    results = run_samples(problem, [right, wrong] * 3, cache=cache)
    assert [r.passed for r in results] == [True, False] * 3
    assert len(cache) == 2
    assert run_samples(problem, [wrong], cache=cache)[0] is results[1]  # from the cache
