"""The indicator formulas on plain numbers: shares, gaps, the 0-10 alert score, the outcome of one comparison, and
the dissimilarity index. Exact arithmetic (fractions) throughout; callers turn results into floats for display.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from forms.indicators_ruleset import Ruleset, exact, load_ruleset

Share = Fraction | int | float

# Explanation codes carried by an assessed item.
PREDOMINANT = "predominant"  # p > predominance_threshold while p_ref <= it
SCORE_THRESHOLD = "score_threshold"  # S >= risk_score_threshold
MISSING_DATA = "missing_data"  # a count is missing: score = missing_data_score
SMALL_NUMBERS = "small_numbers"  # N < min_pupils or n_ref < min_group, with one or more of:
NO_PUPILS = "no_pupils"  # N = 0: nothing to measure (an empty class, no bench seats recorded)
FEW_PUPILS = "few_pupils"  # 0 < N < min_pupils
FEW_IN_GROUP = "few_in_group"  # n_ref < min_group: the group is (nearly) absent from the reference
MINORITY_LANGUAGE = "minority_language"  # a class taught in the group's mother tongue


def share(n: int | None, N: int | None) -> Fraction | None:
    """p = n / N, exact; None when either is unknown or N == 0 (an empty population has no share)."""
    if n is None or N is None or N == 0:
        return None
    if n < 0 or N < 0 or n > N:
        raise ValueError(f"share: need 0 <= n <= N, got n={n}, N={N}")
    return Fraction(n, N)


def gap_pp(p_x: Share | None, p_ref: Share | None) -> Fraction | None:
    """Gap in percentage points: 100 * (p_x - p_ref); None when a share is unknown."""
    if p_x is None or p_ref is None:
        return None
    return 100 * (exact(p_x) - exact(p_ref))


def alert_score(p_x: Share | None, p_ref: Share | None, ruleset: Ruleset | None = None) -> Fraction | None:
    """S = min(M, M * max(0, p_x - p_ref) / (1 - p_ref)) with M = score_max (10).

    0 when the item mirrors (or is below) its reference, M when it is made up entirely of the group. When
    p_ref = 1 there is no room above the reference: p_x <= 1 = p_ref, so the excess is 0 and S = 0 — the division
    is only reached when p_x > p_ref, which implies p_ref < 1. None when a share is unknown.
    """
    if p_x is None or p_ref is None:
        return None
    cap = (ruleset or load_ruleset()).score_max
    p_x, p_ref = exact(p_x), exact(p_ref)
    excess = p_x - p_ref
    if excess <= 0:
        return Fraction(0)
    return min(cap, cap * excess / (1 - p_ref))


@dataclass(frozen=True)
class Assessment:
    """The outcome of comparing one item (class, building, bench, unit) with its reference population."""

    outcome: str  # risk | ok | insufficient | missing_data | exempt
    score: Fraction | None
    codes: tuple[str, ...]
    p: Fraction | None
    p_ref: Fraction | None
    gap_pp: Fraction | None


def assess(n: int | None, N: int | None, n_ref: int | None, N_ref: int | None, ruleset: Ruleset | None = None,
           *, exempt: bool = False) -> Assessment:
    """Classify an item with n of N pupils in the group against a reference with n_ref of N_ref.

    Order: exempt (minority-language class) → missing_data (any count unknown; score = missing_data_score) →
    insufficient (N < min_pupils or n_ref < min_group; never ok) → risk (predominant, or S >= threshold) → ok.
    Shares, gap and score are still reported where they can be computed, for exempt and insufficient items too.
    """
    rs = ruleset or load_ruleset()
    p, p_ref = share(n, N), share(n_ref, N_ref)
    gap, score = gap_pp(p, p_ref), alert_score(p, p_ref, rs)
    if exempt:
        return Assessment("exempt", score, (MINORITY_LANGUAGE,), p, p_ref, gap)
    if None in (n, N, n_ref, N_ref):
        return Assessment("missing_data", rs.missing_data_score, (MISSING_DATA,), p, p_ref, gap)
    if N < rs.min_pupils or n_ref < rs.min_group or p is None or p_ref is None:
        codes = [SMALL_NUMBERS]
        if N == 0 or N < rs.min_pupils:
            codes.append(NO_PUPILS if N == 0 else FEW_PUPILS)
        if n_ref < rs.min_group or N_ref == 0:
            codes.append(FEW_IN_GROUP)
        return Assessment("insufficient", score, tuple(codes), p, p_ref, gap)
    codes = []
    if p > rs.predominance_threshold and p_ref <= rs.predominance_threshold:
        codes.append(PREDOMINANT)
    if score >= rs.risk_score_threshold:
        codes.append(SCORE_THRESHOLD)
    return Assessment("risk" if codes else "ok", score, tuple(codes), p, p_ref, gap)


def dissimilarity(pairs: Iterable[tuple[int, int]]) -> Fraction | None:
    """D = 1/2 * sum_c | n_c/n_u - (N_c - n_c)/(N_u - n_u) | over (n_c, N_c) pairs, exact.

    0 when every class has the unit's mix, 1 when the group and the others never share a class. None when it is
    undefined: no pupil of the group (n_u = 0) or no pupil outside it (N_u - n_u = 0).
    """
    pairs = list(pairs)
    n_u = sum(n for n, _ in pairs)
    m_u = sum(N - n for n, N in pairs)
    if n_u == 0 or m_u == 0:
        return None
    return sum((abs(Fraction(n, n_u) - Fraction(N - n, m_u)) for n, N in pairs), Fraction(0)) / 2


def as_float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)
