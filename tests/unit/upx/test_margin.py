import pytest

from goslim.upx.margin import median_interval, paired_cost, verdict


def test_cost_is_the_median_of_paired_differences():
    base = [10.0, 30.0, 10.0, 12.0, 11.0]  # round 2 was slow for everyone
    level = [150.0, 175.0, 149.0, 152.0, 151.0]
    cost, spread = paired_cost(base, level)
    assert cost == 140.0
    # Five pairs: the >= 90% interval of the median is min..max of the differences (139..145).
    assert spread == 5.0


def test_the_interval_narrows_to_inner_order_statistics_with_more_rounds():
    ordered = [float(i) for i in range(1, 22)]  # 21 differences
    low, high = median_interval(ordered)
    assert (low, high) == (7.0, 15.0)  # P(Binomial(21, 1/2) <= 6) ~ 0.039 per tail
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) == (1.0, 5.0)
    assert median_interval([1.0, 2.0]) == (1.0, 2.0)


def test_too_few_pairs_give_no_cost():
    assert paired_cost([1.0], [2.0]) is None
    assert paired_cost([], []) is None


@pytest.mark.parametrize(
    ("cost", "spread", "expected"),
    [
        (120.0, 10.0, "inside"),
        (146.0, 12.0, "unclear"),
        (161.0, 12.0, "unclear"),
        (170.0, 12.0, "over"),
        (150.0, 0.0, "unclear"),  # exactly on the budget is never inside
        (None, None, "unclear"),
    ],
)
def test_verdict_needs_a_margin_larger_than_the_spread(cost, spread, expected):
    assert verdict(cost, spread, 150.0) == expected
