"""AdamATan2 and SignSGD against naive float64 references; schedule and EMA."""

import io
import math

import torch

from hrm.nn.puzzle_embedding import PuzzleEmbedding
from hrm.train.ema import EMA
from hrm.train.optim import AdamATan2, SignSGD
from hrm.train.schedule import lr_at


def naive_adam_atan2(p, grads, lr, b1, b2, wd):
    p = p.clone().double()
    m = torch.zeros_like(p)
    v = torch.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g.double()
        p = p * (1 - lr * wd)
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        p = p - lr / (1 - b1**t) * torch.atan2(m, v.sqrt() / math.sqrt(1 - b2**t))
    return p


def test_adam_atan2_matches_formula():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5, 7))
    start = w.detach().clone()
    grads = [torch.randn(5, 7) * 10 ** (k - 2) for k in range(4)]
    opt = AdamATan2([w], lr=0.01, betas=(0.9, 0.95), weight_decay=0.1)
    for g in grads:
        w.grad = g.clone()
        opt.step()
    expected = naive_adam_atan2(start, grads, 0.01, 0.9, 0.95, 0.1)
    assert torch.allclose(w.detach().double(), expected, rtol=1e-5, atol=1e-6)
    # scale invariance: the first step is lr/(1-b1) * atan(1-b1) * sign(g) whatever the gradient's scale
    v = torch.nn.Parameter(torch.zeros(3))
    opt = AdamATan2([v], lr=0.1, betas=(0.9, 0.95), weight_decay=0.0)
    v.grad = torch.tensor([1e-8, -5.0, 1e6])
    opt.step()
    assert torch.allclose(v.detach(), torch.tensor([-1.0, 1.0, -1.0]) * 0.1 / 0.1 * math.atan(0.1), atol=1e-7)


def test_adam_atan2_state_round_trips():
    w = torch.nn.Parameter(torch.ones(4))
    opt = AdamATan2([w], lr=0.1)
    w.grad = torch.ones(4)
    opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    w2 = torch.nn.Parameter(w.detach().clone())
    opt2 = AdamATan2([w2], lr=0.1)
    opt2.load_state_dict(state)
    for o, p in ((opt, w), (opt2, w2)):
        p.grad = torch.full((4,), 0.5)
        o.step()
    assert torch.equal(w, w2)


def test_sign_sgd_updates_only_seen_rows_with_summed_sign():
    emb = PuzzleEmbedding(6, 3, torch.float32)
    with torch.no_grad():
        emb.weights.copy_(torch.arange(18, dtype=torch.float32).view(6, 3))
    before = emb.weights.clone()
    emb.train()
    out = emb(torch.tensor([1, 4, 1]))
    (out * torch.tensor([[1.0, -1.0, 0.0], [2.0, 2.0, -2.0], [-3.0, 0.5, 1.0]])).sum().backward()
    opt = SignSGD(emb, lr=0.5, weight_decay=0.2)
    opt.step()
    decay = 1 - 0.5 * 0.2
    expected = before.clone()
    expected[1] = before[1] * decay - 0.5 * torch.tensor([-1.0, -1.0, 1.0])  # signs of summed rows 0 and 2
    expected[4] = before[4] * decay - 0.5 * torch.tensor([1.0, 1.0, -1.0])
    assert torch.allclose(emb.weights, expected)
    untouched = [0, 2, 3, 5]
    assert torch.equal(emb.weights[untouched], before[untouched])
    opt.zero_grad()
    assert emb.local_weights.grad is None


def test_schedule_matches_authors_rule():
    assert lr_at(1, 1e-4, 2000, 26041) == 1e-4 / 2000
    assert lr_at(2000, 1e-4, 2000, 26041) == 1e-4
    assert lr_at(20000, 1e-4, 2000, 26041, min_ratio=1.0) == 1e-4
    assert abs(lr_at(26041, 1.0, 2000, 26041, min_ratio=0.1) - 0.1) < 1e-12
    halfway = 2000 + (26041 - 2000) // 2
    assert abs(lr_at(halfway, 1.0, 2000, 26041, min_ratio=0.0) - 0.5) < 1e-3


def test_ema_tracks_and_restores_exactly():
    model = torch.nn.Linear(3, 2)
    ema = EMA(model, decay=0.9)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)
    for n, p in model.named_parameters():
        assert torch.allclose(ema.shadow[n], 0.9 * start[n] + 0.1 * p.detach())
    current = {n: p.detach().clone() for n, p in model.named_parameters()}
    with ema.applied(model):
        assert torch.equal(model.weight, ema.shadow["weight"])
    for n, p in model.named_parameters():
        assert torch.equal(p, current[n])
