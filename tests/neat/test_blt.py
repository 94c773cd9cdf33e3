"""BLT: entropy patching, hash n-gram embeddings and cross-attention pooling against naive float64
loops; causality of the entropy model, the TRM latent and the whole model; shapes, config errors; the
benchmark's corpus split, window order and held-out scoring; and small learning tests (a tiny BLT's loss
falls; a trained entropy model starts patches at random digits)."""

import math
import random

import pytest
import torch

from hrm.errors import ConfigError
from hrm.neat.blt import (BLTConfig, BLTModel, ByteFrontEnd, EntropyModel, HashNgramEmbedding, Patcher,
                          encode_bytes, entropy, fixed_patch_starts, ngram_hashes, patch_ids, patch_lengths,
                          patch_starts, threshold_for_mean_patch_size)
from hrm.neat.blt.byte_vocab import VOCAB_SIZE
from hrm.neat.blt.corpus import ByteCorpus, next_byte_loss, python_sources
from hrm.neat.blt.cross_attention import CrossAttention, decoder_cross_mask
from hrm.neat.blt.evaluation import bits_per_window, mean_and_se
from hrm.neat.blt.hash_embeddings import HASH_PRIMES
from hrm.neat.blt.latent import RecursiveLatent
from hrm.neat.blt.local_encoder import LocalEncoder

TINY = dict(local_dim=16, latent_dim=32, num_encoder_layers=1, num_decoder_layers=1, num_latent_layers=1,
            num_local_heads=2, num_latent_heads=2, num_cross_heads=2, hash_table_size=64, expansion=2.0)


def assert_close(got: torch.Tensor, want: torch.Tensor, atol: float) -> None:
    """Elementwise |got - want| <= atol (torch.testing.assert_close costs seconds of imports on first use)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    error = (got - want).abs().max().item()
    assert error <= atol, f"max abs error {error:.3g} > {atol:.3g}"


def random_ids(batch_size: int, length: int, seed: int = 0) -> torch.Tensor:
    ids = torch.randint(4, VOCAB_SIZE, (batch_size, length), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = 1  # BOS
    return ids


# ---- patching ------------------------------------------------------------------------------------------

def naive_start_positions(entropies: list[float], rule: str, threshold: float) -> list[int]:
    """The reference's `find_entropy_patch_start_ids` (include_next_token) as a loop: positions 0 and 1
    start, entropies[0] is dropped, then rest[i] (the entropy of byte i + 2) decides position i + 2."""
    starts = [0, 1]
    rest = entropies[1:]
    for i, value in enumerate(rest):
        if rule == "global":
            cut = value > threshold
        else:  # the reference sets mask[:, 0] = True, then differences of consecutive kept entropies
            cut = i == 0 or value - rest[i - 1] > threshold
        if cut:
            starts.append(i + 2)
    return starts


@pytest.mark.parametrize("rule", ["global", "monotonic"])
def test_patch_starts_match_naive_loop(rule):
    torch.manual_seed(0)
    for length in (1, 2, 3, 17, 64):
        entropies = torch.rand(3, length, dtype=torch.float64) * 4
        entropies[0, length // 2:] = entropies[0, length // 2]  # ties: equal values never start a patch
        for threshold in (0.0, 0.5, 1.0, 2.5):
            starts = patch_starts(entropies, rule, threshold)
            assert starts.shape == (3, length + 1)
            for row in range(3):
                want = naive_start_positions(entropies[row].tolist(), rule, threshold)
                assert starts[row].nonzero().flatten().tolist() == want


def test_worked_example_from_the_reference():
    entropies = torch.tensor([[0.1, 3.0, 0.2, 0.3, 2.5, 0.1, 0.1, 4.0, 0.2, 0.1]])
    starts = patch_starts(entropies, "global", 1.0)
    assert starts[0].nonzero().flatten().tolist() == [0, 1, 2, 5, 8]
    assert patch_lengths(starts)[0].tolist() == [1, 1, 3, 3, 3]  # sums to N + 1 (include_next_token)
    assert patch_ids(starts)[0].tolist() == [0, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_monotonic_rule_ignores_a_slow_ramp_that_the_global_rule_cuts():
    ramp = torch.linspace(0, 5, 40)[None]  # steps of 0.128 nats
    assert patch_starts(ramp, "monotonic", 0.5).sum() == 3  # only the forced 0, 1, 2
    assert patch_starts(ramp, "global", 0.5).sum() > 30


@pytest.mark.parametrize("rule", ["global", "monotonic"])
def test_patching_is_incremental(rule):
    entropies = torch.rand(2, 50, generator=torch.Generator().manual_seed(1)) * 3
    full = patch_starts(entropies, rule, 1.0)
    for n in (1, 2, 3, 10, 49):
        assert torch.equal(patch_starts(entropies[:, :n], rule, 1.0), full[:, :n + 1])


def test_lengths_and_fixed_patches():
    starts = fixed_patch_starts(2, 10, 4)
    assert patch_lengths(starts)[0].tolist() == [1, 4, 4, 2]  # BOS alone, then 4-byte patches
    entropies = torch.rand(4, 30, generator=torch.Generator().manual_seed(2)) * 3
    lengths = patch_lengths(patch_starts(entropies, "global", 1.5))
    assert (lengths.sum(dim=1) == 31).all() and (lengths[:, 0] == 1).all()  # BOS is alone


def test_threshold_for_mean_patch_size_reaches_the_target():
    entropies = torch.rand(8, 256, generator=torch.Generator().manual_seed(3)) * 3
    for rule in ("global", "monotonic"):
        for size in (3.0, 6.0):
            starts = patch_starts(entropies, rule, threshold_for_mean_patch_size(entropies, rule, size))
            assert 257 * 8 / starts.sum().item() == pytest.approx(size, rel=0.05)


def test_entropy_of_uniform_and_one_hot_logits():
    assert entropy(torch.zeros(3, VOCAB_SIZE)).tolist() == pytest.approx([math.log(VOCAB_SIZE)] * 3)
    one_hot = torch.full((VOCAB_SIZE,), -1e4)
    one_hot[7] = 0
    assert entropy(one_hot).item() == pytest.approx(0.0, abs=1e-6)


# ---- hash n-gram embeddings -----------------------------------------------------------------------------

def naive_hash(ids: list[int], position: int, n: int, prime: int, table_size: int) -> int:
    """Hash_f of the n ids ending at `position` (left-padded with 0): sum_j g_j prime^j in wrapping
    int64 arithmetic, then mod table_size, all in Python integers."""
    window = ([0] * (n - 1) + ids)[position:position + n]
    value = sum(g * prime**j for j, g in enumerate(window))
    value = (value + 2**63) % 2**64 - 2**63  # two's-complement wrap to int64
    return value % table_size


def test_ngram_hashes_match_naive_polynomial():
    ids = random_ids(2, 40, seed=4)
    for n in range(3, 9):
        for hash_index in (0, 1, 10):
            for table_size in (500002, 97):
                got = ngram_hashes(ids, n, table_size, hash_index)
                want = [[naive_hash(row, t, n, HASH_PRIMES[hash_index], table_size) for t in range(len(row))]
                        for row in ids.tolist()]
                assert got.tolist() == want


def test_hash_embedding_is_a_sum_of_table_rows():
    torch.manual_seed(0)
    sizes = (3, 4, 5, 6, 7, 8)
    module = HashNgramEmbedding(8, sizes, 101, num_hash_functions=2).double()
    ids = random_ids(2, 20, seed=5)
    keys = [(f, n) for f in range(2) for n in sizes]  # table order: hash function, then n-gram size
    want = torch.zeros(2, 20, 8, dtype=torch.float64)
    for table, (f, n) in zip(module.tables, keys):
        rows = [[naive_hash(row, t, n, HASH_PRIMES[f], 101) for t in range(20)] for row in ids.tolist()]
        want += table.weight.detach()[torch.tensor(rows)]
    assert_close(module(ids), want, atol=1e-12)


def test_hash_of_position_t_depends_only_on_the_last_n_bytes():
    ids = random_ids(1, 30, seed=6)
    changed = ids.clone()
    changed[0, 12] = 4 if ids[0, 12] != 4 else 5
    for n in (3, 8):
        differs = (ngram_hashes(ids, n, 500002) != ngram_hashes(changed, n, 500002))[0]
        assert differs.nonzero().flatten().tolist() == list(range(12, 12 + n))


# ---- cross-attention --------------------------------------------------------------------------------------

# The module's pre-norms use the core `rms_norm`, which computes in float32 even for float64 inputs
# (the authors' choice), so these float64 comparisons agree to ~2e-7, not to rounding error.
CROSS_ATTENTION_ATOL = 1e-6


def naive_rms(x: torch.Tensor, eps: float) -> torch.Tensor:
    return x / torch.sqrt((x * x).mean() + eps)


def naive_cross_attention(attention: CrossAttention, query: torch.Tensor, memory: list[torch.Tensor]
                          ) -> torch.Tensor:
    """One query vector [d] attending to the memory vectors it may see, head by head, float64."""
    d, h = query.shape[0], attention.num_heads
    e = d // h
    w_q = attention.q_proj.weight
    w_k, w_v = attention.kv_proj.weight[:d], attention.kv_proj.weight[d:]
    q = w_q @ naive_rms(query, attention.eps)
    keys = [w_k @ naive_rms(m, attention.eps) for m in memory]
    values = [w_v @ naive_rms(m, attention.eps) for m in memory]
    heads = []
    for head in range(h):
        part = slice(head * e, (head + 1) * e)
        scores = torch.stack([q[part] @ k[part] for k in keys]) / math.sqrt(e)
        weights = torch.exp(scores - scores.max())
        weights = weights / weights.sum()
        heads.append(sum(w * v[part] for w, v in zip(weights, values)))
    return query + attention.o_proj.weight @ torch.cat(heads)


def test_encoder_pooling_matches_naive_masked_reference():
    """Each patch: max-pool its byte states, project to k queries, attend to its own bytes only."""
    torch.manual_seed(0)
    config = BLTConfig(**TINY)  # keys_per_patch = 2
    encoder = LocalEncoder(config).double()
    h = torch.randn(2, 11, 16, dtype=torch.float64)
    byte_patch_ids = torch.tensor([[0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4],
                                   [0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3]])  # row 1 has a padding patch 4
    got = encoder.patches(h, byte_patch_ids, 5)
    assert got.shape == (2, 5, 32)
    k, d = config.keys_per_patch, config.local_dim
    for b in range(2):
        for p in range(int(byte_patch_ids[b].max()) + 1):
            own = [h[b, t] for t in range(11) if byte_patch_ids[b, t] == p]
            pooled = torch.stack(own).max(dim=0).values
            queries = (encoder.pool_proj.weight @ pooled).view(k, d)
            want = torch.cat([naive_cross_attention(encoder.cross_attention, q, own) for q in queries])
            assert_close(got[b, p], want, atol=CROSS_ATTENTION_ATOL)


def test_decoder_cross_attention_matches_naive_masked_reference():
    """Byte t sees the patches q - window < p <= q of its decoder patch id q."""
    torch.manual_seed(1)
    attention = CrossAttention(8, 2, 1e-5).double()
    queries, memory = torch.randn(1, 6, 8, dtype=torch.float64), torch.randn(1, 4 * 2, 8, dtype=torch.float64)
    decoder_ids = torch.tensor([[0, 0, 1, 2, 2, 3]])
    for window in (0, 1, 2):
        got = attention(queries, memory, decoder_cross_mask(decoder_ids, 4, 2, window))
        for t in range(6):
            q_id = int(decoder_ids[0, t])
            seen = [p for p in range(4) if p <= q_id and (window == 0 or p > q_id - window)]
            keys = [memory[0, 2 * p + j] for p in seen for j in range(2)]
            assert_close(got[0, t], naive_cross_attention(attention, queries[0, t], keys),
                         atol=CROSS_ATTENTION_ATOL)


# ---- causality and shapes ---------------------------------------------------------------------------------

def test_entropy_model_is_causal():
    torch.manual_seed(0)
    model = EntropyModel(dim=16, num_layers=2, num_heads=2).double()
    ids = random_ids(2, 24, seed=7)
    for t in (1, 10, 23):
        changed = ids.clone()
        changed[:, t] = (ids[:, t] - 4 + 1) % 256 + 4
        before, after = model(ids), model(changed)
        assert_close(after[:, :t], before[:, :t], atol=1e-12)
        assert not torch.allclose(after[:, t], before[:, t])


def entropy_patched_blt(**overrides) -> BLTModel:
    torch.manual_seed(0)
    entropy_model = EntropyModel(dim=16, num_layers=1, num_heads=2).double()
    median = entropy_model.entropies(random_ids(4, 64, seed=8)).median().item()
    return BLTModel(BLTConfig(**{**TINY, **overrides}), patcher=Patcher("global", median, entropy_model=entropy_model)
                    ).double()


@pytest.mark.parametrize("latent", ["transformer", "trm"])
def test_blt_logits_at_t_do_not_depend_on_later_bytes(latent):
    model = entropy_patched_blt(latent=latent, deep_recursions=2)
    ids = random_ids(2, 40, seed=9)
    before = model(ids)
    for t in (2, 9, 25, 39):
        changed = ids.clone()
        changed[:, t:] = random_ids(2, 41 - t, seed=t)[:, 1:]
        after = model(changed)
        assert_close(after[:, :t], before[:, :t], atol=1e-10)
        assert not torch.allclose(after[:, t], before[:, t])


def test_trm_latent_is_causal_over_patches():
    torch.manual_seed(0)
    latent = RecursiveLatent(16, 2, 2, 2.0, 1e-5, latent_recursions=3, deep_recursions=2).double()
    patches = torch.randn(2, 9, 16, dtype=torch.float64)
    changed = patches.clone()
    changed[:, 5] += 1
    assert_close(latent(changed)[:, :5], latent(patches)[:, :5], atol=1e-12)


@pytest.mark.parametrize("latent", ["transformer", "trm"])
def test_blt_forward_backward_shapes(latent):
    model = entropy_patched_blt(latent=latent)
    ids = random_ids(3, 33, seed=10)
    logits = model(ids)
    assert logits.shape == (3, 33, VOCAB_SIZE)
    logits.logsumexp(-1).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert all(p.grad is None for p in model.front_end.patcher.entropy_model.parameters())  # held, not trained


def test_front_end_gives_one_latent_per_patch():
    front_end = ByteFrontEnd(BLTConfig(**TINY), Patcher("fixed", patch_size=4))
    ids = encode_bytes(b"def add(a, b):\n    return a + b\n")[None]  # 33 ids: BOS + 32 bytes
    patched = front_end(ids)
    assert patched.patch_states.shape == (1, 1 + 8, 32)  # BOS patch, then 32 bytes / 4
    assert patched.byte_states.shape == (1, 33, 16)
    assert patched.num_patches.tolist() == [9]
    # byte t predicts x_{t+1} from the last patch that ends before x_{t+1}'s patch: x_1..x_4 from BOS's
    assert patched.decoder_patch_ids[0, :10].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_bad_starts_are_refused():
    model = BLTModel(BLTConfig(**TINY))
    ids = random_ids(1, 8)
    with pytest.raises(ValueError, match="patch starts"):
        model(ids)
    starts = fixed_patch_starts(1, 8, 2)
    starts[0, 1] = False
    with pytest.raises(ValueError, match="positions 0 and 1"):
        model(ids, starts)


@pytest.mark.parametrize("bad", [dict(local_dim=0), dict(latent_dim=40), dict(num_local_heads=3),
                                 dict(num_latent_heads=32), dict(num_cross_heads=5), dict(expansion=0.0),
                                 dict(local_window=-1), dict(ngram_sizes=(3, 3)), dict(ngram_sizes=(0,)),
                                 dict(num_hash_functions=12), dict(latent="rnn"), dict(latent_recursions=0),
                                 dict(deep_recursions=0), dict(rms_norm_eps=0.0)])
def test_bad_config_raises_config_error(bad):
    with pytest.raises(ConfigError, match=f"blt.{next(iter(bad))}"):
        BLTConfig(**{**TINY, **bad}).validate()


def test_bad_patcher_raises_config_error():
    with pytest.raises(ConfigError):
        Patcher("space")
    with pytest.raises(ConfigError):
        Patcher("global", 1.0)  # no entropy model
    with pytest.raises(ConfigError):
        Patcher("fixed", patch_size=0)


# ---- corpus and held-out scoring ---------------------------------------------------------------------------

def write_files(root, files: dict[str, bytes]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(text)


def test_python_sources_hold_out_distinct_files_and_skip_third_party(tmp_path):
    write_files(tmp_path, {"a.py": b"x = 1\n", "b.py": b"x = 1\n", "m.py": b"m\n", "pkg/c.py": b"c\n",
                           "pkg/notes.txt": b"t", "site-packages/e.py": b"e\n", "pkg/__pycache__/f.py": b"f\n",
                           "z.py": b"z\n"})
    train, held_out = python_sources(tmp_path, held_out_every=2)
    # b.py repeats a.py's text, so it is dropped; distinct files in order: a, m, pkg/c, z
    assert [path.relative_to(tmp_path).as_posix() for path in held_out] == ["a.py", "pkg/c.py"]
    assert [path.relative_to(tmp_path).as_posix() for path in train] == ["m.py", "z.py"]
    assert not {path.read_bytes() for path in train} & {path.read_bytes() for path in held_out}


def test_byte_corpus_windows_files_and_slots(tmp_path):
    write_files(tmp_path, {"a.py": b"abc", "b.py": b"defgh"})
    corpus = ByteCorpus([tmp_path / "a.py", tmp_path / "b.py"])  # bytes "abc\ndefgh"
    windows = corpus.windows_at(torch.tensor([0, 4]), 3)
    assert windows.tolist() == [[1, *(byte + 4 for byte in b"abc")], [1, *(byte + 4 for byte in b"def")]]
    assert corpus.file_of(torch.tensor([0, 2, 3, 4, 8])).tolist() == [0, 0, 0, 1, 1]  # 3: a.py's joining newline
    slots = corpus.window_slots(2, torch.Generator().manual_seed(0))
    assert sorted(slots.tolist()) == [0, 2, 4, 6]  # every non-overlapping window once, in some order
    assert torch.equal(slots, corpus.window_slots(2, torch.Generator().manual_seed(0)))


def test_mean_and_se_per_window_and_per_cluster():
    values = torch.tensor([1.0, 2.0, 4.0, 7.0])
    mean, se = mean_and_se(values)
    assert mean == pytest.approx(3.5) and se == pytest.approx(values.std().item() / 2)
    # a cluster of identical values counts once: the SE of the cluster means, not of the 8 values
    repeated, clusters = values.repeat_interleave(2), torch.arange(4).repeat_interleave(2)
    assert mean_and_se(repeated, clusters) == pytest.approx((3.5, values.std().item() / 2))
    assert mean_and_se(repeated)[1] < mean_and_se(repeated, clusters)[1]
    with pytest.raises(ValueError, match="two clusters"):
        mean_and_se(values, torch.zeros(4))


def test_bits_per_window_averages_to_the_training_loss():
    torch.manual_seed(0)
    model = EntropyModel(dim=16, num_layers=1, num_heads=2)
    windows = random_ids(5, 12, seed=11)
    bits = bits_per_window(model, windows, batch_size=2)
    assert bits.shape == (5,) and bits.dtype == torch.float64
    with torch.no_grad():
        assert bits.mean().item() == pytest.approx(next_byte_loss(model, windows).item() / math.log(2), rel=1e-5)
    assert_close(bits, bits_per_window(model, windows, batch_size=16), atol=1e-9)


# ---- learning ---------------------------------------------------------------------------------------------

def template_windows(count: int, seed: int) -> torch.Tensor:
    """"user id=DDD; status=ok. " x 3 with random digits: 72 bytes, BOS first."""
    rng = random.Random(seed)
    texts = ["".join(f"user id={rng.randrange(1000):03d}; status=ok. " for _ in range(3)) for _ in range(count)]
    return torch.stack([encode_bytes(text.encode()) for text in texts])


def test_tiny_blt_learns():
    torch.manual_seed(0)
    model = BLTModel(BLTConfig(**TINY), patcher=Patcher("fixed", patch_size=4))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    held_out = template_windows(8, seed=100)
    with torch.no_grad():
        before = next_byte_loss(model, held_out).item()
    for step in range(20):
        loss = next_byte_loss(model, template_windows(8, seed=step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = next_byte_loss(model, held_out).item()
    assert before > 5.0 and after < 1.5, (before, after)  # ln 260 = 5.56 at the start


@pytest.mark.slow
def test_trained_entropy_model_starts_patches_at_random_digits():
    """The shared doc's toy: after training, the unpredictable digits carry the entropy, so global
    patching starts patches there and almost nowhere else."""
    torch.manual_seed(0)
    model = EntropyModel(dim=32, num_layers=2, num_heads=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(300):
        loss = next_byte_loss(model, template_windows(16, seed=step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    windows = template_windows(16, seed=1000)
    starts = Patcher("global", 1.0, entropy_model=model)(windows[:, :-1])
    digit = (windows >= ord("0") + 4) & (windows <= ord("9") + 4)
    hits = starts[:, 2:][digit[:, 2:]].double().mean().item()
    false_starts = starts[:, 2:][~digit[:, 2:]].double().mean().item()
    assert hits > 0.5 and false_starts < 0.05, (hits, false_starts)
