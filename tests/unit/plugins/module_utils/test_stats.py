# -*- coding: utf-8 -*-
"""The statistics of traffic_probe against printed tables, closed forms and exact enumeration."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils import _stats

# Chi-square quantiles as printed in the usual tables (3 decimals): (df, x, P(X <= x)).
CHI2_TABLE = [
    (1, 0.00393, 0.05),
    (1, 2.706, 0.90),
    (1, 3.841, 0.95),
    (1, 6.635, 0.99),
    (2, 5.991, 0.95),
    (3, 7.815, 0.95),
    (4, 9.488, 0.95),
    (5, 15.086, 0.99),
    (10, 3.940, 0.05),
    (10, 18.307, 0.95),
    (20, 31.410, 0.95),
    (30, 43.773, 0.95),
    (100, 124.342, 0.95),
]


@pytest.mark.parametrize("df, x, probability", CHI2_TABLE)
def test_chi2_cdf_matches_the_printed_table(df, x, probability):
    assert _stats.chi2_cdf(x, df) == pytest.approx(probability, abs=1e-4)
    assert _stats.chi2_sf(x, df) == pytest.approx(1 - probability, abs=1e-4)


@pytest.mark.parametrize("df, x, probability", CHI2_TABLE)
def test_chi2_ppf_inverts_the_cdf(df, x, probability):
    assert _stats.chi2_ppf(probability, df) == pytest.approx(x, abs=1e-3)


# x from deep in the series branch (x < a + 1) to far in the continued-fraction tail.
XS = [1e-6, 0.01, 0.5, 1.0, 1.9, 2.1, 3.0, 7.5, 20.0, 60.0]


@pytest.mark.parametrize("x", XS)
def test_chi2_closed_forms(x):
    # df = 2 is the exponential distribution, df = 4 its Erlang sum, df = 1 a squared normal.
    assert _stats.chi2_cdf(x, 2) == pytest.approx(-math.expm1(-x / 2), rel=1e-12, abs=1e-15)
    assert _stats.chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12)
    assert _stats.chi2_sf(x, 4) == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-12)
    assert _stats.chi2_cdf(x, 1) == pytest.approx(math.erf(math.sqrt(x / 2)), rel=1e-12, abs=1e-15)
    assert _stats.chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10)


def test_chi2_far_tail_keeps_relative_precision():
    # 1 - cdf would be 0 in floating point here; the p-value must still be right.
    assert _stats.chi2_sf(100.0, 1) == pytest.approx(math.erfc(math.sqrt(50.0)), rel=1e-10)
    assert _stats.chi2_sf(100.0, 1) < 1e-22


def test_incomplete_gamma_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shape a must be positive"):
        _stats.regularized_gamma_p(0, 1.0)
    with pytest.raises(ValueError, match="must not be negative"):
        _stats.regularized_gamma_q(1.0, -1.0)


@pytest.mark.parametrize("nc", [0.5, 3.0, 7.85, 20.0])
@pytest.mark.parametrize("x", [0.2, 3.841, 10.0])
def test_noncentral_chi2_with_one_degree_of_freedom_is_a_shifted_normal_squared(x, nc):
    normal = NormalDist()
    exact = normal.cdf(math.sqrt(x) - math.sqrt(nc)) - normal.cdf(-math.sqrt(x) - math.sqrt(nc))
    assert _stats.ncx2_cdf(x, 1, nc) == pytest.approx(exact, abs=1e-10)


# Cohen (1988), Statistical Power Analysis, table 7.4.15: lambda for power 0.80 at alpha 0.05.
@pytest.mark.parametrize("df, cohen_lambda", [(1, 7.85), (2, 9.64), (3, 10.90), (4, 11.94), (5, 12.83)])
def test_noncentrality_for_power_matches_cohen(df, cohen_lambda):
    assert _stats.noncentrality_for_power(df, 0.95, 0.80) == pytest.approx(cohen_lambda, abs=0.01)


def test_noncentrality_for_one_df_is_the_sum_of_z_scores_squared():
    normal = NormalDist()
    z_sum = normal.inv_cdf(0.975) + normal.inv_cdf(0.8)
    # The two-sided test's far tail adds a little power, so lambda* is a hair below (z + z)^2.
    assert _stats.noncentrality_for_power(1, 0.95, 0.8) == pytest.approx(z_sum ** 2, abs=1e-3)


def test_exact_binomial_test_matches_r():
    # R: binom.test(c(682, 243), p = 3/4) -> p-value = 0.3825 (the example in ?binom.test).
    assert _stats.binom_test(682, 925, 0.75) == pytest.approx(0.3825, abs=1e-4)
    # Symmetric case: 2 P(X <= 7) for Binomial(20, 0.5).
    assert _stats.binom_test(7, 20, 0.5) == pytest.approx(0.2632, abs=1e-4)
    assert _stats.binom_test(10, 20, 0.5) == pytest.approx(1.0)


def test_binomial_tail():
    assert _stats.binom_sf(5, 5, 0.5) == pytest.approx(1 / 32)
    assert _stats.binom_sf(0, 5, 0.5) == 1.0
    assert _stats.binom_sf(1, 10, 0.1) == pytest.approx(1 - 0.9 ** 10)


def test_exact_multinomial_test_by_hand():
    # n = 3 into 3 equal cells: the three "all in one" outcomes have probability 1/27 each and are
    # the least likely, so all-in-one has p = 3/27.
    assert _stats.multinomial_test([0, 0, 3], [1 / 3] * 3) == pytest.approx(3 / 27)
    # (1, 1, 1) is the most likely outcome: every outcome is as or less likely.
    assert _stats.multinomial_test([1, 1, 1], [1 / 3] * 3) == pytest.approx(1.0)


def test_exact_multinomial_test_declines_when_there_are_too_many_outcomes():
    assert _stats.multinomial_test([300, 300, 300, 300], [0.25] * 4) is None


# --- sample sizes -----------------------------------------------------------------------------


def test_zero_observation_count_formula():
    # n = ceil(ln(1 - confidence) / ln(1 - tolerance)), worked by hand:
    # ln 0.05 / ln 0.90 = 28.43 -> 29; ln 0.05 / ln 0.95 = 58.40 -> 59; ln 0.01 / ln 0.95 = 89.78 -> 90.
    assert _stats.zero_observation_count(0.10, 0.95) == 29
    assert _stats.zero_observation_count(0.05, 0.95) == 59
    assert _stats.zero_observation_count(0.05, 0.99) == 90


@pytest.mark.parametrize("share, confidence", [(0.10, 0.95), (0.05, 0.95), (0.05, 0.99), (0.20, 0.90)])
def test_zero_observation_count_is_the_smallest_that_sees_the_tolerance(share, confidence):
    n = _stats.zero_observation_count(share, confidence)
    # With n responses, others at `share` are missed with probability (1 - share)^n.
    assert (1 - share) ** n <= 1 - confidence < (1 - share) ** (n - 1)


def test_all_v1_sample_size_uses_the_zero_observation_bound():
    assert _stats.share_sample_size({"v1": 1.0}, 0.10, 0.95, 0.8) == 29
    assert _stats.share_sample_size({"v1": 1.0, "v2": 0.0}, 0.05, 0.99, 0.8) == 90


def test_two_label_sample_size_matches_the_normal_approximation():
    normal = NormalDist()
    z_sum = normal.inv_cdf(0.975) + normal.inv_cdf(0.8)
    for p, d in [(0.5, 0.10), (0.5, 0.05), (0.8, 0.10), (0.9, 0.10)]:
        # n ~= (z_(1-alpha/2) + z_power)^2 p (1 - p) / d^2, for a move of d between the two labels.
        approximate = z_sum ** 2 * p * (1 - p) / d ** 2
        n = _stats.share_sample_size({"a": p, "b": 1 - p}, d, 0.95, 0.8)
        assert math.ceil(approximate) - 1 <= n <= math.ceil(approximate)
    # Worked values: 50/50 at 10 points is 7.849 / 0.04 -> 197; at 5 points 7.849 / 0.01 -> 785.
    assert _stats.share_sample_size({"v1": 0.5, "v3": 0.5}, 0.10, 0.95, 0.8) == 197
    assert _stats.share_sample_size({"v1": 0.5, "v3": 0.5}, 0.05, 0.95, 0.8) == 785


def test_three_label_sample_size_uses_the_chi_square_power():
    # w^2 = 0.1^2 (3 + 3) = 0.06; lambda*(df=2) = 9.635 -> 160.6 -> 161.
    assert _stats.share_sample_size({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 0.10, 0.95, 0.8) == 161


def _exact_power(n, p0, p1, confidence):
    """P(the share test rejects p0) when the truth is p1, summed over every outcome exactly."""
    shares = {"a": p0, "b": 1 - p0}
    total = 0.0
    for k in range(n + 1):
        if not _stats.share_test({"a": k, "b": n - k}, shares, confidence)["passed"]:
            total += math.exp(_stats.binom_logpmf(k, n, p1))
    return total


def test_computed_sample_size_gives_the_stated_power_and_no_more():
    n = _stats.share_sample_size({"a": 0.5, "b": 0.5}, 0.10, 0.95, 0.8)
    # The decision actually taken (chi-square on the counts) detects a 60/40 truth about 80% of the
    # time at the computed n, and clearly less with half the traffic: the size is neither padded
    # nor short.
    assert 0.78 <= _exact_power(n, 0.5, 0.6, 0.95) <= 0.83
    assert _exact_power(n // 2, 0.5, 0.6, 0.95) < 0.6
    # Under the expectation itself it rejects at most 1 - confidence of the time.
    assert _exact_power(n, 0.5, 0.5, 0.95) <= 0.05 + 0.005


def test_least_detectable_effect_needs_a_possible_move():
    with pytest.raises(ValueError, match="tolerance of 30 points is larger than every expected share"):
        _stats.least_detectable_effect({"a": 0.2, "b": 0.2, "c": 0.2, "d": 0.2, "e": 0.2}, 0.3)


def test_percentile_sample_size():
    assert _stats.percentile_sample_size(0.5, 0.95, upper=True) == 5
    assert _stats.percentile_sample_size(0.9, 0.95, upper=True) == 29
    assert _stats.percentile_sample_size(0.99, 0.95, upper=True) == 299
    assert _stats.percentile_sample_size(0.9, 0.95, upper=False) == 2
    assert _stats.percentile_sample_size(1.0, 0.95, upper=True) == 0


# --- tests and their sentences ----------------------------------------------------------------


def test_share_test_passes_a_fair_split_with_chi_square():
    result = _stats.share_test({"v1": 102, "v3": 95}, {"v1": 0.5, "v3": 0.5}, 0.95)
    assert result["passed"] is True
    assert result["test"] == "chi-square"
    # X2 = (3.5^2 + 3.5^2) / 98.5 = 0.2487 on 1 df.
    assert result["p_value"] == pytest.approx(_stats.chi2_sf(24.5 / 98.5, 1))
    assert result["p_value"] == pytest.approx(0.618, abs=1e-3)


def test_share_test_rejects_a_70_30_split():
    result = _stats.share_test({"v1": 138, "v3": 59}, {"v1": 0.5, "v3": 0.5}, 0.95)
    assert result["passed"] is False
    assert result["p_value"] < 1e-6


def test_share_test_uses_the_exact_test_for_small_expected_counts():
    result = _stats.share_test({"a": 15, "b": 1}, {"a": 0.9, "b": 0.1}, 0.95)
    assert result["test"] == "exact binomial"
    assert result["p_value"] == pytest.approx(_stats.binom_test(15, 16, 0.9))
    three = _stats.share_test({"a": 2, "b": 2, "c": 8}, {"a": 0.3, "b": 0.3, "c": 0.4}, 0.95)
    assert three["test"] == "exact multinomial"
    assert three["p_value"] == pytest.approx(_stats.multinomial_test([2, 2, 8], [0.3, 0.3, 0.4]))


def test_share_test_falls_back_to_chi_square_and_says_it_is_approximate():
    counts = {"a": 600, "b": 300, "c": 98, "d": 2}
    result = _stats.share_test(counts, {"a": 0.6, "b": 0.3, "c": 0.097, "d": 0.003}, 0.95)
    assert result["test"] == "chi-square (approximate: some expected counts are below 5)"


def test_a_label_expected_at_zero_fails_on_one_sighting():
    result = _stats.share_test({"v1": 58, "v2": 1}, {"v1": 1.0}, 0.95)
    assert result["passed"] is False
    assert result["unexpected"] == {"v2": 1}
    assert result["p_value"] is None
    mixed = _stats.share_test({"v1": 50, "v3": 49, "v2": 1}, {"v1": 0.5, "v3": 0.5, "v2": 0.0}, 0.95)
    assert mixed["passed"] is False and mixed["unexpected"] == {"v2": 1}


def test_all_v1_passes_only_when_every_response_is_v1():
    result = _stats.share_test({"v1": 29}, {"v1": 1.0}, 0.95)
    assert result["passed"] is True
    sentence = _stats.describe_share_test(result, {"v1": 1.0}, 0.95)
    # 1 - 0.05^(1/29) = 9.82%: the smallest share of others 29 clean responses exclude.
    assert sentence == "shares: all 29 responses v1: any other at 9.8% or more would have shown up with 95% confidence"


def test_share_sentence_reads_like_a_verdict():
    expected = {"v1": 0.5, "v3": 0.5}
    result = _stats.share_test({"v1": 102, "v3": 95}, expected, 0.95)
    assert _stats.describe_share_test(result, expected, 0.95) == (
        "shares: v1 51.8% (expected 50 ± 7), v3 48.2% (expected 50 ± 7): "
        "consistent with v1 50 / v3 50 at 95% confidence (chi-square p=0.62, n=197)"
    )
    failed = _stats.share_test({"v1": 138, "v3": 59}, expected, 0.95)
    assert "not consistent with v1 50 / v3 50" in _stats.describe_share_test(failed, expected, 0.95)


def test_share_test_with_no_responses_fails():
    result = _stats.share_test({}, {"v1": 1.0}, 0.95)
    assert result["passed"] is False
    assert _stats.describe_share_test(result, {"v1": 1.0}, 0.95) == "shares: no responses to test against v1 100"


@pytest.mark.parametrize("expected, message", [
    ({"v1": 50, "v3": 40}, "expect_shares sums to 90 percent, not 100: v1 50 / v3 40"),
    ({"v1": 110, "v3": -10}, r"expect_shares\[v1\] is 110: a share must be between 0 and 100 percent"),
    ({}, "expect_shares is empty"),
])
def test_validate_expected_names_the_option(expected, message):
    with pytest.raises(ValueError, match=message):
        _stats.validate_expected(expected, "expect_shares")


def test_nearest_rank_percentile():
    values = list(range(10, 0, -1))
    assert _stats.percentile(values, 0.5) == 5
    assert _stats.percentile(values, 0.9) == 9
    assert _stats.percentile(values, 0.99) == 10
    assert _stats.percentile(values, 1.0) == 10
    assert _stats.percentile([7], 0.5) == 7


def test_percentile_upper_bound_needs_enough_evidence():
    five = _stats.percentile_bound_test([10, 11, 12, 13, 14], 0.5, 100, 0.95, upper=True)
    assert five["passed"] is True and five["p_value"] == pytest.approx(1 / 32)
    # Four values all within cannot show a median bound at 95%: 1/16 > 0.05.
    four = _stats.percentile_bound_test([10, 11, 12, 13], 0.5, 100, 0.95, upper=True)
    assert four["passed"] is False and four["p_value"] == pytest.approx(1 / 16)
    over = _stats.percentile_bound_test([10] * 6 + [500] * 14, 0.5, 100, 0.95, upper=True)
    assert over["passed"] is False and over["observed"] == 500 and over["within"] == 6


def test_percentile_lower_bound_proves_a_delay():
    delayed = _stats.percentile_bound_test([7003, 7010, 7001, 7020, 7002], 0.5, 7000, 0.95, upper=False)
    assert delayed["passed"] is True and delayed["within"] == 5
    fast = _stats.percentile_bound_test([3, 7010, 4, 7020, 2], 0.5, 7000, 0.95, upper=False)
    assert fast["passed"] is False and fast["observed"] == 4


def test_maximum_is_checked_as_observed():
    assert _stats.percentile_bound_test([1, 2, 99], 1.0, 100, 0.95, upper=True)["passed"] is True
    assert _stats.percentile_bound_test([1, 2, 101], 1.0, 100, 0.95, upper=True)["passed"] is False
    assert _stats.percentile_bound_test([1, 2, 101], 1.0, 100, 0.95, upper=False)["passed"] is True


# --- planning and deciding a probe (Expectations) ---------------------------------------------

URL = "http://gateway/productpage"


def params(**given):
    """traffic_probe's parameters as AnsibleModule hands them over, defaults filled in."""
    p = dict(count=None, max_count=2000, concurrency=4, expect_shares=None, expect_status=None,
             max_latency_ms={}, min_latency_ms={}, confidence=0.95, power=0.8, tolerance=10)
    p.update(given)
    return p


class Sent:
    def __init__(self, status, label, latency_ms, error=None):
        self.status, self.label, self.latency_ms, self.error = status, label, latency_ms, error


def sent(*triples):
    return [Sent(*triple) for triple in triples]


@pytest.mark.parametrize("given, message", [
    (dict(confidence=1.0, tolerance=0), "confidence is 1.0: it must be between 0 and 1, for example 0.95"),
    (dict(power=0.0), "power is 0.0: it must be between 0 and 1"),
    (dict(tolerance=100.0, count=0), "tolerance is 100.0: give percentage points between 0 and 100, for example 10"),
    (dict(count=0, expect_shares={"v1": 90}), "count is 0: it must be at least 1"),
    (dict(max_count=0), "max_count is 0: it must be at least 1"),
    (dict(expect_shares={"v1": 90}, expect_status={200: 90}), "expect_shares sums to 90 percent"),
    (dict(expect_status={200: 90}, max_latency_ms={"p0": 1}), "expect_status sums to 90 percent"),
    (dict(max_latency_ms={"q50": 1}), "max_latency_ms has key 'q50': use pNN with 0 < NN < 100"),
    (dict(min_latency_ms={"p50": None}), "min_latency_ms.p50 is None: give milliseconds as a number"),
])
def test_expectations_name_the_first_wrong_parameter(given, message):
    with pytest.raises(ValueError) as caught:
        _stats.Expectations.from_params(params(**given))
    assert str(caught.value).startswith(message)


def test_expectations_read_the_parameters():
    expect = _stats.Expectations.from_params(params(expect_shares={"v1": 80, "v3": 20}, expect_status={200: 100},
                                                    max_latency_ms={"p99.5": "250", "max": 900},
                                                    min_latency_ms={"p50": 7000}))
    assert expect.shares == {"v1": 0.8, "v3": 0.2} and expect.status == {"200": 1.0}
    assert expect.latency_bounds == [("max_latency_ms", "p99.5", 0.995, 250.0), ("max_latency_ms", "max", 1.0, 900.0),
                                     ("min_latency_ms", "p50", 0.5, 7000.0)]


def test_the_sample_size_is_the_most_any_expectation_needs():
    expect = _stats.Expectations.from_params(params(expect_shares={"v1": 80, "v3": 20}, expect_status={200: 100},
                                                    max_latency_ms={"p90": 100, "max": 900}, min_latency_ms={"p50": 1}))
    needed = {"shares": 126, "status": 29, "max_latency_ms.p90": 29, "min_latency_ms.p50": 5}
    assert expect.sample_size(None, 2000) == dict(count=126, computed=True, needed=needed)
    assert expect.sample_size(7, 2000) == dict(count=7, computed=False, needed=needed)
    # A given count is sent as given, even above max_count.
    assert expect.sample_size(5000, 2000)["count"] == 5000
    with pytest.raises(ValueError) as caught:
        expect.sample_size(None, 125)
    assert str(caught.value) == (
        "the expectations need 126 requests (shares 126, status 29, max_latency_ms.p90 29, min_latency_ms.p50 5) at "
        "95% confidence, 80% power and a tolerance of 10 points, more than max_count 125: raise tolerance, or "
        "max_count if that traffic is acceptable")


def test_without_expectations_a_count_must_be_given():
    expect = _stats.Expectations.from_params(params(max_latency_ms={"max": 10}))
    assert expect.sample_size(3, 2000) == dict(count=3, computed=False, needed={})
    with pytest.raises(ValueError, match="count is not set and there is nothing to compute it from: set count"):
        expect.sample_size(None, 2000)


def test_a_passing_decision_reads_exactly():
    expect = _stats.Expectations.from_params(params(expect_shares={"v1": 50, "v3": 50}, max_latency_ms={"p50": 100},
                                                    min_latency_ms={"max": 25}))
    outcomes = sent((200, "v1", 10.0), (200, "v3", 12.5), (200, "v1", 14.04), (200, "v3", 16.0),
                    (200, "v3", 18.0), (200, "v1", 20.0), (200, "v3", 22.0), (200, "v1", 30.06))
    plan = dict(count=8, computed=False, needed={})
    result = expect.decide(outcomes, 0.43219, URL, plan)
    assert result == dict(
        requests=8, sample_size=plan, counts={"v1": 4, "v3": 4}, shares={"v1": 50.0, "v3": 50.0}, status={"200": 8},
        latency_ms={"p50": 16.0, "p90": 30.1, "p99": 30.1, "max": 30.1}, errors=0, error_samples=[], duration_s=0.432,
        checks=[
            dict(name="shares", passed=True, test="exact binomial", p_value=pytest.approx(1.0),
                 msg="shares: v1 50% (expected 50 ± 34.6), v3 50% (expected 50 ± 34.6): consistent with v1 50 / v3 50 "
                     "at 95% confidence (exact binomial p=1, n=8)"),
            dict(name="max_latency_ms.p50", passed=True, test="order statistic (sign test)",
                 p_value=pytest.approx(0.5 ** 8),
                 msg="latency p50 16 ms: at most 100 ms shown at 95% confidence (8 of 8 within, p=0.0039)"),
            dict(name="min_latency_ms.max", passed=True, test="observed", p_value=None,
                 msg="latency max 30.1 ms: at least 25 ms as observed"),
        ],
        passed=True,
        msg="Probe passed (8 requests to http://gateway/productpage in 0.4 s: v1 50%, v3 50%; status 200 100%; "
            "latency p50 16 ms, p90 30.1 ms, p99 30.1 ms, max 30.1 ms): "
            "shares: v1 50% (expected 50 ± 34.6), v3 50% (expected 50 ± 34.6): consistent with v1 50 / v3 50 at 95% "
            "confidence (exact binomial p=1, n=8); latency p50 16 ms: at most 100 ms shown at 95% confidence "
            "(8 of 8 within, p=0.0039); latency max 30.1 ms: at least 25 ms as observed")


def test_a_failing_decision_comes_with_its_tables():
    expect = _stats.Expectations.from_params(params(expect_shares={"v1": 100}, expect_status={200: 75, 503: 25},
                                                    max_latency_ms={"p90": 5}))
    outcomes = sent((200, "v1", 4.0), (503, "v1", 3.0), (0, "error", 200.0, "timed out"),
                    (0, "error", 3.5, "[Errno 111] Connection refused"), (0, "error", 201.0, "timed out"))
    result = expect.decide(outcomes, 0.21, URL, dict(count=5, computed=False, needed={}))
    assert result["passed"] is False
    assert result["counts"] == {"error": 3, "v1": 2} and result["status"] == {"0": 3, "200": 1, "503": 1}
    assert result["errors"] == 3 and result["error_samples"] == ["timed out", "[Errno 111] Connection refused"]
    assert [(c["name"], c["passed"]) for c in result["checks"]] == [
        ("shares", False), ("status", False), ("max_latency_ms.p90", False)]
    assert result["checks"][0]["msg"] == (
        "shares: v1 40% (expected 100), error 60% (expected 0): not v1 100: seen error 3 of 5 where 0% was expected "
        "(exact: one response refutes it)")
    assert result["checks"][2]["msg"] == (
        "latency p90 201 ms: at most 5 ms not shown at 95% confidence (3 of 5 within, p=0.99); showing it takes at "
        "least 29 requests, all within the bound")
    assert result["table"] == [
        "label          count    share  expected",
        "v1                 2   40.00%      100%",
        "error              3   60.00%        0%",
        "status         count    share  expected",
        "200                1   20.00%       75%",
        "503                1   20.00%       25%",
        "0                  3   60.00%        0%",
    ]
    assert result["msg"].startswith("Probe failed (5 requests to http://gateway/productpage in 0.2 s: error 60%, v1 40%; "
                                    "status 0 60%, 200 20%, 503 20%; latency p50 4 ms, p90 201 ms, p99 201 ms, max 201 ms): ")


def test_a_decision_without_expectations_only_measures():
    result = _stats.Expectations.from_params(params()).decide(sent((200, "a", 1.25), (404, "b", 2.0)), 0.01, URL, {})
    assert result["passed"] is True and result["checks"] == [] and "table" not in result
    assert result["msg"] == ("Probe measured 2 requests to http://gateway/productpage in 0.0 s: a 50%, b 50%; "
                             "status 200 50%, 404 50%; latency p50 1.2 ms, p90 2 ms, p99 2 ms, max 2 ms")
