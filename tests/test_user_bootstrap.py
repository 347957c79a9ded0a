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
