"""The seed × user bootstrap (kdkit.user_bootstrap): hand cases and coverage by simulation."""

import numpy as np
import pytest

from kdkit.user_bootstrap import seed_only_ci, seed_user_ci


def test_mean_over_observed_cells_and_a_seeded_interval():
    d = np.array([[1.0, 0.0, np.nan], [0.0, 1.0, 1.0]])   # 3 of 5 observed cells are 1
    a = seed_user_ci(d, n_boot=500, seed=3)
    assert a.mean == pytest.approx(0.6) and a.n_seeds == 2 and a.n_users == 3
    assert a.ci_low <= 0.6 <= a.ci_high and a.se > 0
    assert a == seed_user_ci(d, n_boot=500, seed=3)            # the same input, the same CI
    const = seed_user_ci(np.full((3, 4), 0.25), n_boot=200)
    assert (const.ci_low, const.ci_high, const.se) == pytest.approx((0.25, 0.25, 0.0))
    with pytest.raises(ValueError, match="crossed or nested"):
        seed_user_ci(d, design="users")
    with pytest.raises(ValueError, match="at least 2 seeds and 2 users"):
        seed_user_ci(np.ones((1, 5)))


def _simulate(rng, *, crossed: bool, S=10, U=200, mu=0.01, sd_seed=0.002, sd_user=0.2,
              sd_cell=0.3):
    """d[s, u] = μ + a_s + b_u + e_su; crossed: one b per user for every seed (a fixed split),
    nested: fresh users per seed."""
    a = rng.normal(0, sd_seed, (S, 1))
    b = rng.normal(0, sd_user, (1, U)) if crossed else rng.normal(0, sd_user, (S, U))
    return mu + a + b + rng.normal(0, sd_cell, (S, U))


@pytest.mark.parametrize("crossed", [True, False])
def test_coverage_of_the_seed_by_user_interval_by_simulation(crossed):
    """Over 200 simulated studies the 95 % seed × user interval covers the true μ about 95 % of
    the time; where the seeds share the users the seed-only t interval covers far less (it
    treats the users' draw as fixed: ~0.67 here)."""
    rng = np.random.default_rng(20261205)
    R, hit, hit_seed_only = 200, 0, 0
    for r in range(R):
        d = _simulate(rng, crossed=crossed)
        ci = seed_user_ci(d, design="crossed" if crossed else "nested", n_boot=400, seed=r)
        hit += ci.ci_low <= 0.01 <= ci.ci_high
        _, lo, hi = seed_only_ci(d)
        hit_seed_only += lo <= 0.01 <= hi
    assert 0.9 <= hit / R <= 0.99
    if crossed:
        assert hit_seed_only / R < 0.8
    else:  # fresh users per seed: the seed means are independent and the t interval is valid
        assert hit_seed_only / R >= 0.9


def test_normal_tost_and_the_crossed_power_by_hand():
    from kdkit.user_bootstrap import (
        crossed_mde,
        crossed_se,
        crossed_seeds_needed,
        normal_tost,
        user_floor,
    )
    # mean 0, SE 0.01, δ = 1.96·SE: each one-sided p is P(Z > 1.96) = 0.025
    assert normal_tost(0.0, 0.01, 0.0196) == pytest.approx(0.025, abs=1e-4)
    assert normal_tost(0.05, 0.0, 0.01) == 1.0 and normal_tost(0.0, 0.0, 0.01) == 0.0
    # SE 0.01 at 5 seeds, of which the users' share 0.006: the seeds' variance 6.4e-5·5
    assert crossed_se(0.01, 0.006, 5, 20) == pytest.approx((6.4e-5 * 5 / 20 + 3.6e-5) ** 0.5)
    z = 1.959964 + 0.841621
    assert crossed_mde(0.01, 0.006, 5, 0.05) == pytest.approx(z * 0.01, rel=1e-5)
    # effect 0.03: room (0.03/z)² − 0.006² = 7.867e-5; 3.2e-4 / 7.867e-5 = 4.07 → 5 seeds
    assert crossed_seeds_needed(0.03, 0.01, 0.006, 5, 0.05) == 5
    # an effect below the users' floor z·0.006 = 0.0168: no number of seeds detects it
    assert user_floor(0.006, 0.05) == pytest.approx(z * 0.006, rel=1e-5)
    assert crossed_seeds_needed(0.016, 0.01, 0.006, 5, 0.05) is None
    assert crossed_seeds_needed(0.0175, 0.01, 0.006, 5, 0.05) > 100


def test_a_paired_claim_on_users_covers_them_and_says_so():
    """Users with a large spread and seeds that barely move: the seed-only t interval is narrow
    and calls a tiny effect significant; the claim on the users' matrix does not, its power
    note says more seeds cannot help, and its mean is the matrix's."""
    from kdkit.claims import finalize, paired_claim

    rng = np.random.default_rng(7)
    users = rng.normal(0, 0.3, (1, 400))
    d = 0.004 + (users - users.mean()) + rng.normal(0, 0.0005, (6, 1))
    a, b = 0.2 + d.mean(axis=1), np.full(6, 0.2)
    seeds_only = finalize([paired_claim(a, b, ">", "A beats B", key="a>b", delta=0.01)])[0]
    assert seeds_only.verdict == "supported"
    on_users = finalize([paired_claim(a, b, ">", "A beats B", key="a>b", delta=0.01,
                                      users=d)])[0]
    assert on_users.measured == pytest.approx(d.mean())
    assert on_users.verdict == "inconclusive"
    assert on_users.ci_high - on_users.ci_low > 5 * (seeds_only.ci_high - seeds_only.ci_low)
    assert "seed × user t interval over 6 seeds and 400 users" in on_users.note
    assert "no number of seeds" in on_users.note and on_users.seeds_needed is None
    with pytest.raises(ValueError, match="users has 2 seeds, the claim 6"):
        paired_claim(a, b, ">", "A beats B", users=d[:2])


def test_the_closed_form_interval_keeps_coverage_with_few_seeds_where_the_bootstrap_does_not():
    """Five seeds whose own effect dominates: resampling 5 seeds as if they were the population
    makes the bootstrap's interval too narrow (~87 % for a nominal 95 %); the t interval on the
    Satterthwaite df keeps ~95 % (300 simulated studies)."""
    from kdkit.user_bootstrap import seed_user_t

    rng = np.random.default_rng(1)
    R, hit_t, hit_boot = 300, 0, 0
    for r in range(R):
        d = _simulate(rng, crossed=True, S=5, sd_seed=0.05, sd_user=0.05, sd_cell=0.05)
        t = seed_user_t(d)
        hit_t += t.ci_low <= 0.01 <= t.ci_high
        b = seed_user_ci(d, n_boot=300, seed=r)
        hit_boot += b.ci_low <= 0.01 <= b.ci_high
    assert hit_t / R >= 0.93 and hit_boot / R <= 0.9


def test_the_closed_form_interval_by_hand():
    from kdkit.user_bootstrap import seed_user_t, user_share

    d = np.array([[0.1, 0.3, 0.2], [0.3, 0.5, 0.4]])   # seed means 0.2, 0.4; user means .2 .4 .3
    t = seed_user_t(d)
    se_seed, se_user = np.std([0.2, 0.4], ddof=1) / np.sqrt(2), 0.1 / np.sqrt(3)
    assert user_share(d) == pytest.approx(se_user)
    assert t.mean == pytest.approx(0.3) and t.se == pytest.approx(np.hypot(se_seed, se_user))
    df = t.se ** 4 / (se_seed ** 4 / 1 + se_user ** 4 / 2)
    assert t.df == pytest.approx(df)
    from scipy import stats
    assert t.ci_high - t.mean == pytest.approx(stats.t.ppf(0.975, df) * t.se)


def test_the_users_fixed_share_is_their_variance_component_not_their_churn():
    """σ_u/√U by ANOVA moments: near the true 0.2/√400 = 0.01 with user effects, near 0 where
    the users' scores only churn from seed to seed (then more seeds do help); user_share keeps
    the churn's 1/S share (≈ 0.3/√10/√400 = 0.0047 here)."""
    from kdkit.user_bootstrap import user_floor_se, user_share

    rng = np.random.default_rng(3)
    with_users = _simulate(rng, crossed=True, S=10, U=400, sd_user=0.2, sd_cell=0.3)
    assert user_floor_se(with_users) == pytest.approx(0.01, rel=0.15)
    churn = _simulate(rng, crossed=True, S=10, U=400, sd_user=0.0, sd_cell=0.3)
    assert user_floor_se(churn) < 0.002 < user_share(churn)
    assert user_share(churn) == pytest.approx(0.3 / np.sqrt(10) / 20, rel=0.15)


def test_a_claim_on_users_sizes_its_seeds_for_the_sources_effect():
    from kdkit.claims import finalize, paired_claim

    rng = np.random.default_rng(11)
    d = 0.01 + rng.normal(0, 0.2, (1, 300)) + rng.normal(0, 0.01, (5, 1))
    a, b = 0.5 + d.mean(axis=1), np.full(5, 0.5)
    c = finalize([paired_claim(a, b, ">", "A beats B", key="a>b", delta=0.005,
                               claimed_rel=0.1, users=d)])[0]
    assert c.source_effect == pytest.approx(0.05)          # 10 % of B's mean
    assert "(the source's +0.05)" in c.note


def test_users_are_aligned_by_id_not_by_position():
    """Seed 1 lists its users in another order and lacks user 7: the matrix lines them up by
    id, NaN where a seed has no value."""
    from kdkit.user_bootstrap import aligned_diffs

    s0 = ({"users": [3, 5, 7], "m": [0.5, 1.0, 0.0]}, {"users": [3, 5, 7], "m": [0.0, 0.0, 1.0]})
    s1 = ({"users": [5, 3], "m": [1.0, 0.25]}, {"users": [3, 5], "m": [0.0, 0.5]})
    d = aligned_diffs([s0, s1], "m")
    np.testing.assert_array_equal(d, [[0.5, 1.0, -1.0], [0.25, 0.5, np.nan]])
    assert aligned_diffs([s0, (None, s1[1])], "m") is None   # a job without per-user scores
    assert aligned_diffs([s0], "other") is None


def test_a_nested_design_keeps_the_seed_test_and_says_it_covers_users():
    """Each seed drew its own users: the interval over seeds is the interval (no second
    users' term), and the note says why it covers users; an unknown design is refused."""
    from kdkit.claims import beats_controls, paired_claim

    a, b = np.array([0.31, 0.33, 0.30, 0.35, 0.32]), np.array([0.30, 0.30, 0.29, 0.31, 0.30])
    plain, nested = (paired_claim(a, b, ">", "A beats B", users=u) for u in (None, "nested"))
    assert (nested.measured, nested.ci_low, nested.ci_high, nested.p) == \
        (plain.measured, plain.ci_low, plain.ci_high, plain.p)
    assert "nested design" in nested.note and "nested design" not in plain.note
    c = beats_controls(a, {"x": b}, "A beats x", users="nested")
    assert "nested design" in c.note and c.p == plain.p
    with pytest.raises(ValueError, match="users must be"):
        paired_claim(a, b, ">", "A beats B", users="crossed")


def test_beating_controls_on_users_is_the_weakest_seed_user_comparison():
    """With users' matrices, each control's comparison is the seed × user t test: one
    control gives exactly paired_claim's crossed numbers; with two, the claim takes the
    smaller lead and the larger p (intersection–union)."""
    from kdkit.claims import beats_controls, paired_claim
    from kdkit.user_bootstrap import seed_user_t

    rng = np.random.default_rng(5)
    d1 = 0.02 + rng.normal(0, 0.3, (6, 200)) + rng.normal(0, 0.01, (6, 1))
    d2 = 0.05 + rng.normal(0, 0.3, (6, 200)) + rng.normal(0, 0.01, (6, 1))
    a = 0.4 + np.zeros(6)
    one = beats_controls(a, {"x": a - d1.mean(axis=1)}, "A beats x", users={"x": d1})
    ref = paired_claim(a, a - d1.mean(axis=1), ">", "A beats x", users=d1)
    assert (one.measured, one.ci_low, one.ci_high, one.p) == pytest.approx(
        (ref.measured, ref.ci_low, ref.ci_high, ref.p))
    two = beats_controls(a, {"x": a - d1.mean(axis=1), "y": a - d2.mean(axis=1)}, "A beats both",
                         users={"x": d1, "y": d2})
    t1, t2 = seed_user_t(d1), seed_user_t(d2)
    assert two.measured == pytest.approx(min(t1.mean, t2.mean))
    assert two.p == pytest.approx(max(t1.p, t2.p))
    with pytest.raises(ValueError, match="no matrix"):
        beats_controls(a, {"x": a, "y": a}, "A beats both", users={"x": d1})


def test_shared_users_without_scores_keep_the_seed_test_and_say_it_misses_users():
    from kdkit.claims import paired_claim

    a, b = np.array([0.31, 0.33, 0.30, 0.35]), np.array([0.30, 0.30, 0.29, 0.31])
    plain, shared = (paired_claim(a, b, ">", "A beats B", users=u) for u in (None, "shared"))
    assert (shared.measured, shared.ci_low, shared.p) == (plain.measured, plain.ci_low, plain.p)
    assert "not new users" in shared.note
