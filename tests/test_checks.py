import pytest
import torch

from genai_course.core.checks import check_points


def test_check_points_accepts_and_names_problems():
    x = torch.zeros(3, 2)
    assert check_points(x, 2) is x
    assert check_points(torch.zeros(3, 5)) is not None
    with pytest.raises(TypeError, match="y must be a torch.Tensor"):
        check_points([[0.0, 0.0]], 2, "y")
    with pytest.raises(ValueError, match=r"shape \(n, 2\), got \(3, 3\)"):
        check_points(torch.zeros(3, 3), 2)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        check_points(torch.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        check_points(torch.zeros(3, 2, dtype=torch.int64), 2)
