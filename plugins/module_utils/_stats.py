# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Statistics for ``traffic_probe``: decide with a stated confidence, and send no more than needed.

Everything here is standard library only (the module runs on the control node, without scipy).
``Expectations`` holds what a probe must show: it plans the request count (``sample_size``) and
decides on the outcomes ``_probe`` sent (``decide``) with the functions below.

Decisions (``alpha = 1 - confidence``):

* Shares of labels (or of status codes), ``share_test``:

  - a label expected at 0% fails on its first observation: under that expectation it has
    probability 0, so one sighting refutes it exactly;
  - a single label expected at 100% therefore passes only when every response carries it;
  - two or more labels with positive expected shares: Pearson's chi-square goodness of fit,
    ``X2 = sum((o_i - e_i)^2 / e_i)`` with ``k - 1`` degrees of freedom, when every expected count
    ``e_i`` is at least 5 (Cochran's rule); below that the exact test: the exact binomial test for
    two labels, the exact multinomial test (every outcome no more likely than the one observed)
    for more. The expectation is rejected when the p-value is at most ``alpha``.

* Percentile bounds, ``percentile_bound_test``: a distribution-free order-statistic (sign) test.
  To show that the q-quantile is at most ``B``, count the ``s`` latencies ``<= B``; if the quantile
  were exactly ``B`` that count would be ``Binomial(n, q)``, so ``p = P(Binomial(n, q) >= s)``.
  To show it is at least ``B``, count those ``>= B`` against ``Binomial(n, 1 - q)``. The 100th
  percentile (``max``) is the observed maximum, checked as it is.

Sample sizes (the fewest requests that make the decision meaningful; more traffic is a cost):

* one label expected at 100% (``d`` the tolerance as a fraction): the smallest ``n`` with
  ``(1 - d)^n <= 1 - confidence``, i.e. ``n = ceil(ln(1 - confidence) / ln(1 - d))``: if other
  labels really take ``d`` or more of the traffic, at least one shows up with probability
  ``confidence`` or more;
* two or more labels: the chi-square test's power. Moving ``d`` of the traffic from label ``i`` to
  label ``j`` gives Cohen's effect size ``w^2 = sum((p1_i - p0_i)^2 / p0_i) = d^2 (1/p_i + 1/p_j)``;
  the least detectable such move (the smallest ``w^2`` over the pairs where it is possible) is the
  design alternative. Under it ``X2`` follows a noncentral chi-square with ``k - 1`` degrees of
  freedom and noncentrality ``lambda = n w^2``, so ``n = ceil(lambda* / w^2)`` where ``lambda*``
  is the smallest noncentrality with ``P(X2 > c) >= power``, ``c`` the chi-square quantile at
  ``confidence``. For two labels this is the familiar
  ``n ~= (z_(1-alpha/2) + z_power)^2 p (1 - p) / d^2``;
* a percentile bound: the fewest requests with which the bound can be shown at all, when every
  one of them is within it: ``n = ceil(ln(alpha) / ln(q))`` for an upper bound,
  ``n = ceil(ln(alpha) / ln(1 - q))`` for a lower one (p50: 5, p90: 29, p99: 299 at 95%).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re
from statistics import NormalDist

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 10000
# Exact multinomial enumeration visits every outcome; beyond this many the test falls back to
# chi-square and says so.
EXACT_MULTINOMIAL_LIMIT = 200000
# Cochran's rule: chi-square is trusted when every expected count is at least this.
MIN_EXPECTED_COUNT = 5
# Outcomes whose probability equals the observed one within rounding count as "as extreme".
_RELATIVE_TIES = 1e-7


def regularized_gamma_p(a, x):
    """The regularized lower incomplete gamma function ``P(a, x)``.

    A power series where it converges fast (``x < a + 1``), else ``1 - Q`` with ``Q`` from the
    continued fraction (modified Lentz method).
    """
    if a <= 0:
        raise ValueError("the shape a must be positive, got %r" % a)
    if x < 0:
        raise ValueError("x must not be negative, got %r" % x)
    if x == 0:
        return 0.0
    if x < a + 1:
        return _gamma_series(a, x)
    return 1.0 - _gamma_continued_fraction(a, x)


def regularized_gamma_q(a, x):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``, accurate in the tail."""
    if a <= 0:
        raise ValueError("the shape a must be positive, got %r" % a)
    if x < 0:
        raise ValueError("x must not be negative, got %r" % x)
    if x == 0:
        return 1.0
    if x < a + 1:
        return 1.0 - _gamma_series(a, x)
    return _gamma_continued_fraction(a, x)


def _gamma_prefactor(a, x):
    return math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_series(a, x):
    term = total = 1.0 / a
    denominator = a
    for dummy in range(_MAX_ITERATIONS):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * _gamma_prefactor(a, x)


def _gamma_continued_fraction(a, x):
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return _gamma_prefactor(a, x) * h


def chi2_cdf(x, df):
    """``P(X <= x)`` for a chi-square variable with ``df`` degrees of freedom."""
    if x <= 0:
        return 0.0
    return regularized_gamma_p(df / 2.0, x / 2.0)


def chi2_sf(x, df):
    """``P(X > x)`` for a chi-square variable with ``df`` degrees of freedom (the test's p-value)."""
    if x <= 0:
        return 1.0
    return regularized_gamma_q(df / 2.0, x / 2.0)


def chi2_ppf(probability, df):
    """The ``probability`` quantile of the chi-square distribution, by bisection on ``chi2_cdf``."""
    if not 0 < probability < 1:
        raise ValueError("probability must be between 0 and 1, got %r" % probability)
    high = max(1.0, float(df))
    while chi2_cdf(high, df) < probability:
        high *= 2.0
    return _bisect(lambda x: chi2_cdf(x, df) >= probability, 0.0, high)


def ncx2_cdf(x, df, nc):
    """``P(X <= x)`` for a noncentral chi-square variable: a Poisson(``nc/2``) mixture of central ones."""
    if nc == 0:
        return chi2_cdf(x, df)
    half = nc / 2.0
    last = int(half + 12.0 * math.sqrt(half) + 20)
    total = 0.0
    for j in range(last + 1):
        weight = math.exp(-half + j * math.log(half) - math.lgamma(j + 1))
        total += weight * chi2_cdf(x, df + 2 * j)
    return min(1.0, total)


def noncentrality_for_power(df, confidence, power):
    """The smallest noncentrality ``lambda*`` with which the chi-square test at ``confidence`` rejects
    with probability ``power``; ``n = lambda* / w^2`` requests give that power against effect ``w^2``."""
    critical = chi2_ppf(confidence, df)

    def reaches(nc):
        return 1.0 - ncx2_cdf(critical, df, nc) >= power

    high = 1.0
    while not reaches(high):
        high *= 2.0
    return _bisect(reaches, 0.0, high)


def _bisect(reached, low, high):
    """The boundary of a monotone predicate that is false at ``low`` and true at ``high``."""
    for dummy in range(200):
        middle = (low + high) / 2.0
        if reached(middle):
            high = middle
        else:
            low = middle
        if high - low <= 1e-12 * max(1.0, high):
            break
    return high


def binom_logpmf(k, n, p):
    """``ln P(X = k)`` for ``X ~ Binomial(n, p)`` (``-inf`` where the probability is 0)."""
    if k < 0 or k > n:
        return float("-inf")
    if p <= 0.0:
        return 0.0 if k == 0 else float("-inf")
    if p >= 1.0:
        return 0.0 if k == n else float("-inf")
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)


def binom_sf(k, n, p):
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, summed exactly."""
    if k <= 0:
        return 1.0
    return min(1.0, sum(math.exp(binom_logpmf(i, n, p)) for i in range(k, n + 1)))


def binom_test(k, n, p):
    """Two-sided exact binomial p-value: the probability of every outcome no more likely than ``k``."""
    observed = binom_logpmf(k, n, p) + math.log1p(_RELATIVE_TIES)
    return min(1.0, sum(math.exp(lp) for lp in (binom_logpmf(i, n, p) for i in range(n + 1)) if lp <= observed))


def _compositions(n, parts):
    if parts == 1:
        yield (n,)
        return
    for first in range(n + 1):
        for rest in _compositions(n - first, parts - 1):
            yield (first,) + rest


def _multinomial_logpmf(counts, probabilities):
    total = math.lgamma(sum(counts) + 1)
    for count, probability in zip(counts, probabilities):
        total += count * math.log(probability) - math.lgamma(count + 1)
    return total


def multinomial_test(counts, probabilities):
    """Exact multinomial p-value (every outcome no more likely than the observed one), or ``None``
    when there are more than ``EXACT_MULTINOMIAL_LIMIT`` outcomes to visit."""
    n = sum(counts)
    if math.comb(n + len(counts) - 1, len(counts) - 1) > EXACT_MULTINOMIAL_LIMIT:
        return None
    observed = _multinomial_logpmf(counts, probabilities) + math.log1p(_RELATIVE_TIES)
    total = 0.0
    for outcome in _compositions(n, len(counts)):
        logpmf = _multinomial_logpmf(outcome, probabilities)
        if logpmf <= observed:
            total += math.exp(logpmf)
    return min(1.0, total)


def _check_level(name, value):
    if not 0 < value < 1:
        raise ValueError("%s must be between 0 and 1 (exclusive), got %r" % (name, value))


def validate_expected(expected, what="expect_shares"):
    """Return ``{label: fraction}`` from ``{label: percent}``; raise ValueError naming ``what`` when the
    percentages are negative or do not sum to 100."""
    if not expected:
        raise ValueError("%s is empty: give at least one label and its expected percent" % what)
    shares = {}
    for label, percent in expected.items():
        percent = float(percent)
        if percent < 0 or percent > 100:
            raise ValueError("%s[%s] is %s: a share must be between 0 and 100 percent" % (what, label, _fmt_number(percent)))
        shares[str(label)] = percent / 100.0
    total = sum(shares.values()) * 100.0
    if abs(total - 100.0) > 1e-6:
        raise ValueError("%s sums to %s percent, not 100: %s" % (what, _fmt_number(total), _fmt_expected(shares)))
    return shares


def zero_observation_count(share, confidence):
    """``n = ceil(ln(1 - confidence) / ln(1 - share))``: with that many responses, other labels that
    really take ``share`` of the traffic show up at least once with probability ``confidence``."""
    _check_level("confidence", confidence)
    _check_level("the tolerance as a fraction", share)
    return int(math.ceil(math.log(1.0 - confidence) / math.log(1.0 - share) - 1e-9))


def least_detectable_effect(shares, tolerance):
    """``w^2 = d^2 (1/p_i + 1/p_j)``, the smallest over the label pairs where moving ``d`` of the
    traffic from ``i`` to ``j`` is possible (``p_i >= d`` and ``p_j + d <= 1``)."""
    positive = [p for p in shares.values() if p > 0]
    effects = [
        tolerance * tolerance * (1.0 / p_from + 1.0 / p_to)
        for i, p_from in enumerate(positive)
        for j, p_to in enumerate(positive)
        if i != j and p_from >= tolerance and p_to + tolerance <= 1.0
    ]
    if not effects:
        raise ValueError(
            "a tolerance of %s points is larger than every expected share (%s): lower the tolerance"
            % (_fmt_number(tolerance * 100), _fmt_expected(shares))
        )
    return min(effects)


def share_sample_size(shares, tolerance, confidence, power):
    """The fewest responses that test ``shares`` (``{label: fraction}``) against a deviation of
    ``tolerance`` (a fraction) at ``confidence`` with ``power``; see the module docstring."""
    _check_level("confidence", confidence)
    _check_level("power", power)
    positive = [p for p in shares.values() if p > 0]
    if len(positive) == 1:
        return zero_observation_count(tolerance, confidence)
    _check_level("the tolerance as a fraction", tolerance)
    effect = least_detectable_effect(shares, tolerance)
    return int(math.ceil(noncentrality_for_power(len(positive) - 1, confidence, power) / effect - 1e-9))


def share_test(observed, shares, confidence):
    """Test observed counts ``{label: count}`` against expected ``shares`` ``{label: fraction}``.

    Labels observed but not expected are expected at 0%. Returns a dict: ``passed``, ``test`` (its
    name), ``p_value`` (``None`` for the exact zero rule), ``n``, ``unexpected`` (``{label: count}``
    seen where 0% was expected) and ``rows`` (label, count, share, expected, margin, all in percent;
    ``margin`` is the ``confidence`` acceptance half-width ``z sqrt(p (1 - p) / n)`` of that label).
    """
    _check_level("confidence", confidence)
    alpha = 1.0 - confidence
    n = sum(observed.values())
    labels = list(shares) + sorted(label for label in observed if label not in shares)
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    rows = []
    for label in labels:
        count = observed.get(label, 0)
        expected = shares.get(label, 0.0)
        margin = z * math.sqrt(expected * (1.0 - expected) / n) if n else 0.0
        rows.append(dict(
            label=label,
            count=count,
            share=round(100.0 * count / n, 2) if n else 0.0,
            expected=round(100.0 * expected, 2),
            margin=round(100.0 * margin, 2),
        ))
    result = dict(n=n, rows=rows, unexpected={}, p_value=None, test=None, passed=False)
    if n == 0:
        result["test"] = "none: no responses"
        return result
    result["unexpected"] = dict((label, observed[label]) for label in labels if observed.get(label, 0) and shares.get(label, 0.0) == 0.0)
    positive = [label for label in shares if shares[label] > 0]
    if result["unexpected"] or len(positive) == 1:
        result["test"] = "exact: a label expected at 0% must not appear"
        result["passed"] = not result["unexpected"]
        return result
    counts = [observed.get(label, 0) for label in positive]
    probabilities = [shares[label] for label in positive]
    result["test"], result["p_value"] = _goodness_of_fit(counts, probabilities)
    result["passed"] = result["p_value"] > alpha
    return result


def _goodness_of_fit(counts, probabilities):
    n = sum(counts)
    expected = [n * p for p in probabilities]
    if min(expected) < MIN_EXPECTED_COUNT:
        if len(counts) == 2:
            return "exact binomial", binom_test(counts[0], n, probabilities[0])
        exact = multinomial_test(counts, probabilities)
        if exact is not None:
            return "exact multinomial", exact
        approximate = " (approximate: some expected counts are below %d)" % MIN_EXPECTED_COUNT
    else:
        approximate = ""
    statistic = sum((o - e) ** 2 / e for o, e in zip(counts, expected))
    return "chi-square" + approximate, chi2_sf(statistic, len(counts) - 1)


def percentile(values, q):
    """The nearest-rank ``q``-quantile (``0 < q <= 1``) of ``values``: the ``ceil(q n)``-th smallest."""
    ordered = sorted(values)
    rank = max(1, int(math.ceil(q * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def percentile_sample_size(q, confidence, upper):
    """The fewest values that can show a ``q``-quantile bound when all are within it:
    ``ceil(ln(alpha) / ln(q))`` for an upper bound, ``ceil(ln(alpha) / ln(1 - q))`` for a lower one;
    0 for ``q == 1`` (the maximum is checked as observed)."""
    _check_level("confidence", confidence)
    if q >= 1.0:
        return 0
    return zero_observation_count(1.0 - q if upper else q, confidence)


def percentile_bound_test(values, q, bound, confidence, upper):
    """Show that the ``q``-quantile of ``values`` is ``<= bound`` (``upper``) or ``>= bound``.

    Returns a dict: ``passed``, ``observed`` (the nearest-rank percentile), ``within`` (how many
    values are within the bound), ``n``, ``p_value`` (``None`` for the maximum, checked as observed).
    """
    _check_level("confidence", confidence)
    n = len(values)
    if n == 0:
        return dict(passed=False, observed=None, within=0, n=0, p_value=None)
    observed = percentile(values, q)
    within = sum(1 for value in values if (value <= bound if upper else value >= bound))
    if q >= 1.0:
        return dict(passed=within == n if upper else within >= 1, observed=observed, within=within, n=n, p_value=None)
    p_value = binom_sf(within, n, q if upper else 1.0 - q)
    return dict(passed=p_value <= 1.0 - confidence, observed=observed, within=within, n=n, p_value=p_value)


def _fmt_number(value):
    return ("%.2f" % value).rstrip("0").rstrip(".")


def _fmt_share(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def _fmt_expected(shares):
    return " / ".join("%s %s" % (label, _fmt_number(100.0 * p)) for label, p in shares.items())


def describe_share_test(result, shares, confidence, what="shares"):
    """One sentence a person can read, e.g. ``shares: v1 50.3% (expected 50 ± 7), v3 49.7% (expected
    50 ± 7): consistent with v1 50 / v3 50 at 95% confidence (chi-square p=0.94, n=197)``."""
    level = "%s%%" % _fmt_number(100.0 * confidence)
    if result["n"] == 0:
        return "%s: no responses to test against %s" % (what, _fmt_expected(shares))
    parts = []
    for row in result["rows"]:
        if row["expected"] > 0 and row["expected"] < 100:
            parts.append("%s %s%% (expected %s ± %s)" % (row["label"], _fmt_share(row["share"]), _fmt_number(row["expected"]), _fmt_share(row["margin"])))
        else:
            parts.append("%s %s%% (expected %s)" % (row["label"], _fmt_share(row["share"]), _fmt_number(row["expected"])))
    table = ", ".join(parts)
    if result["unexpected"]:
        seen = ", ".join("%s %d of %d" % (label, count, result["n"]) for label, count in result["unexpected"].items())
        return "%s: %s: not %s: seen %s where 0%% was expected (exact: one response refutes it)" % (what, table, _fmt_expected(shares), seen)
    if result["p_value"] is None:
        only = [label for label, p in shares.items() if p > 0][0]
        detectable = 1.0 - (1.0 - confidence) ** (1.0 / result["n"])
        return (
            "%s: all %d responses %s: any other at %s%% or more would have shown up with %s confidence"
            % (what, result["n"], only, _fmt_share(100.0 * detectable), level)
        )
    verdict = "consistent with" if result["passed"] else "not consistent with"
    return "%s: %s: %s %s at %s confidence (%s p=%.2g, n=%d)" % (
        what, table, verdict, _fmt_expected(shares), level, result["test"], result["p_value"], result["n"])


# --- planning and deciding a probe ------------------------------------------------------------

_PERCENTILE_KEY = re.compile(r"^p(\d+(?:\.\d+)?)$")
REPORTED_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


def percentile_bounds(option, bounds):
    """``[(key, q, bound_ms)]`` from ``{pNN|max: ms}``, or ValueError naming the option."""
    parsed = []
    for key, bound in bounds.items():
        match = _PERCENTILE_KEY.match(str(key))
        q = 1.0 if str(key) == "max" else (float(match.group(1)) / 100.0 if match else 0.0)
        if not (0 < q < 1 or str(key) == "max"):
            raise ValueError("%s has key %r: use pNN with 0 < NN < 100 (for example p50, p99.9) or max" % (option, key))
        try:
            bound = float(bound)
        except (TypeError, ValueError):
            raise ValueError("%s.%s is %r: give milliseconds as a number" % (option, key, bound))
        parsed.append((str(key), q, bound))
    return parsed


class Expectations:
    """What a probe must show, at what confidence: plans the request count and decides on the outcomes."""

    def __init__(self, shares, status, latency_bounds, confidence, power, tolerance):
        self.shares = shares
        """``{label: fraction}`` or None."""
        self.status = status
        """``{code: fraction}`` (codes as text) or None."""
        self.latency_bounds = latency_bounds
        """``[(option, key, q, bound_ms)]``, option ``max_latency_ms`` or ``min_latency_ms``."""
        self.confidence = confidence
        self.power = power
        self.tolerance = tolerance
        """In percentage points."""

    @classmethod
    def from_params(cls, p):
        """Check ``traffic_probe``'s parameters ``p``; ValueError names the first one that is wrong."""
        for name in ("confidence", "power"):
            if not 0 < p[name] < 1:
                raise ValueError("%s is %r: it must be between 0 and 1, for example 0.95" % (name, p[name]))
        if not 0 < p["tolerance"] < 100:
            raise ValueError("tolerance is %r: give percentage points between 0 and 100, for example 10" % p["tolerance"])
        for name in ("count", "max_count", "concurrency"):
            if p[name] is not None and p[name] < 1:
                raise ValueError("%s is %d: it must be at least 1" % (name, p[name]))
        shares = validate_expected(p["expect_shares"], "expect_shares") if p["expect_shares"] is not None else None
        status = validate_expected(p["expect_status"], "expect_status") if p["expect_status"] is not None else None
        latency_bounds = [(option,) + bound for option in ("max_latency_ms", "min_latency_ms")
                          for bound in percentile_bounds(option, p[option])]
        return cls(shares, status, latency_bounds, p["confidence"], p["power"], p["tolerance"])

    def sample_size(self, count=None, max_count=None):
        """``{count, computed, needed}``: ``count`` when given, else the most any expectation needs."""
        needed = {}
        tolerance = self.tolerance / 100.0
        if self.shares:
            needed["shares"] = share_sample_size(self.shares, tolerance, self.confidence, self.power)
        if self.status:
            needed["status"] = share_sample_size(self.status, tolerance, self.confidence, self.power)
        for option, key, q, bound in self.latency_bounds:
            n = percentile_sample_size(q, self.confidence, upper=option == "max_latency_ms")
            if n:
                needed["%s.%s" % (option, key)] = n
        if count is not None:
            return dict(count=count, computed=False, needed=needed)
        if not needed:
            raise ValueError("count is not set and there is nothing to compute it from: set count, or give "
                             "expect_shares, expect_status or a percentile latency bound")
        count = max(needed.values())
        if max_count is not None and count > max_count:
            raise ValueError("the expectations need %d requests (%s) at %s%% confidence, %s%% power and a tolerance "
                             "of %g points, more than max_count %d: raise tolerance, or max_count if that traffic "
                             "is acceptable" % (count, ", ".join("%s %d" % item for item in needed.items()),
                                                _fmt_number(100.0 * self.confidence), _fmt_number(100.0 * self.power),
                                                self.tolerance, max_count))
        return dict(count=count, computed=True, needed=needed)

    def decide(self, outcomes, duration, url, sample_size):
        """The measurement and the verdict on ``outcomes`` (objects with ``status``, ``label``,
        ``latency_ms``, ``error``) sent to ``url`` in ``duration`` seconds, as ``traffic_probe`` returns
        them (``sample_size`` as planned); ``table`` only when an expectation is not met."""
        n = len(outcomes)
        latencies = [o.latency_ms for o in outcomes]
        counts = _tally(o.label for o in outcomes)
        statuses = _tally(o.status for o in outcomes)
        error_samples = []
        for outcome in outcomes:
            if outcome.error and outcome.error not in error_samples and len(error_samples) < 5:
                error_samples.append(outcome.error)

        checks = []
        tables = []
        if self.shares is not None:
            check, lines = self._share_check("shares", counts, self.shares, "label")
            checks.append(check)
            tables.extend(lines)
        if self.status is not None:
            check, lines = self._share_check("status", dict((str(k), v) for k, v in statuses.items()), self.status, "status")
            checks.append(check)
            tables.extend(lines)
        for option, key, q, bound in self.latency_bounds:
            checks.append(self._latency_check(option, key, q, bound, latencies))

        passed = all(check["passed"] for check in checks)
        latency = dict((key, round(percentile(latencies, q), 1)) for key, q in REPORTED_PERCENTILES)
        summary = "%d requests to %s in %.1f s: %s; status %s; latency %s" % (
            n, url, duration,
            ", ".join("%s %s%%" % (label, _fmt_number(100.0 * count / n)) for label, count in counts.items()),
            ", ".join("%s %s%%" % (code, _fmt_number(100.0 * count / n)) for code, count in statuses.items()),
            ", ".join("%s %s ms" % (key, _fmt_share(value)) for key, value in latency.items()))
        if checks:
            msg = "Probe %s (%s): %s" % ("passed" if passed else "failed", summary, "; ".join(c["msg"] for c in checks))
        else:
            msg = "Probe measured %s" % summary
        result = dict(
            requests=n,
            sample_size=sample_size,
            counts=counts,
            shares=dict((label, round(100.0 * count / n, 2)) for label, count in counts.items()),
            status=dict((str(code), count) for code, count in statuses.items()),
            latency_ms=latency,
            errors=statuses.get(0, 0),
            error_samples=error_samples,
            duration_s=round(duration, 3),
            checks=checks,
            passed=passed,
            msg=msg,
        )
        if not passed:
            result["table"] = tables
        return result

    def _share_check(self, name, observed, expected, title):
        """The check of ``observed`` against ``expected`` and its table, headed ``title``, as lines."""
        test = share_test(observed, expected, self.confidence)
        lines = ["%-12s %7s %8s %9s" % (title, "count", "share", "expected")]
        for row in test["rows"]:
            lines.append("%-12s %7d %7.2f%% %8s%%" % (row["label"], row["count"], row["share"], _fmt_number(row["expected"])))
        check = dict(name=name, passed=test["passed"], test=test["test"], p_value=test["p_value"],
                     msg=describe_share_test(test, expected, self.confidence, what=name))
        return check, lines

    def _latency_check(self, option, key, q, bound, latencies):
        upper = option == "max_latency_ms"
        test = percentile_bound_test(latencies, q, bound, self.confidence, upper)
        relation = "at most" if upper else "at least"
        if test["p_value"] is None:
            msg = "latency %s %s ms: %s %s ms %s" % (
                key, _fmt_share(test["observed"]), relation, _fmt_share(bound), "as observed" if test["passed"] else "not met")
        else:
            msg = "latency %s %s ms: %s %s ms %s at %s%% confidence (%d of %d within, p=%.2g)" % (
                key, _fmt_share(test["observed"]), relation, _fmt_share(bound), "shown" if test["passed"] else "not shown",
                _fmt_number(100.0 * self.confidence), test["within"], test["n"], test["p_value"])
            needed = percentile_sample_size(q, self.confidence, upper)
            if not test["passed"] and test["n"] < needed:
                msg += "; showing it takes at least %d requests, all within the bound" % needed
        return dict(name="%s.%s" % (option, key), passed=test["passed"], test="order statistic (sign test)"
                    if test["p_value"] is not None else "observed", p_value=test["p_value"], msg=msg)


def _tally(values):
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))
