import numpy as np
import pytest
import torch

from kdkit.recsys.ncf import NCF


def test_tower_halves_the_width():
    m = NCF(3, 4, 200, layers=7)
    widths = [layer.out_features for layer in m.tower if isinstance(layer, torch.nn.Linear)]
    assert widths == [200, 100, 50, 25, 12, 6, 1]  # KnowRecDistill's teacher tower


def test_score_all_agrees_with_score():
    torch.manual_seed(0)
    m = NCF(5, 7, 4, layers=3).eval()
    users = torch.tensor([0, 4])
    full = m.score_all(users, chunk=5)  # chunks that cut across users
    for r, u in enumerate(users):
        assert torch.allclose(full[r], m.score(u.repeat(7), torch.arange(7)), atol=1e-6)


def test_ncf_learns_a_tiny_preference():
    from kdkit.data.interactions import Interactions
    from kdkit.recsys.metrics import evaluate
    from kdkit.recsys.train import train_bpr

    # 20 users who all like items 0–4 and never 5–19; held out: one of the liked items
    rng = np.random.default_rng(0)
    train, test = [], []
    for u in range(20):
        liked = rng.permutation(5)
        train += [(u, i) for i in liked[:4]]
        test.append((u, liked[4]))
    arr = lambda x: np.array(x, dtype=np.int64)  # noqa: E731
    data = Interactions("tiny", 20, 20, arr(train), np.zeros((0, 2), np.int64), arr(test))
    torch.manual_seed(0)
    m = NCF(20, 20, 8, layers=2)
    train_bpr(m, data, epochs=60, lr=0.01, batch_size=32)
    assert evaluate(m, data, "test", ks=(1,))["Recall@1"] == pytest.approx(1.0)


def test_layers_must_be_positive():
    with pytest.raises(ValueError, match="layers"):
        NCF(2, 2, 4, layers=0)
