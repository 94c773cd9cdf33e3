"""MVoT: the token discrepancy loss against a naive float64 loop (masking, CE blindness, gradient), the maze
renderer and path targets on a hand-made maze, the VQ tokenizer (shapes, a trained tiny one beats a trivial
baseline), the configuration (TRM and HRM; bad options raise ConfigError), interleaving and a learning test."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hrm.config import build
from hrm.data.maze import GOAL_ID, OPEN_ID, PATH_ID, START_ID, WALL_ID, generate_mazes, maze_from_text
from hrm.errors import ConfigError
from hrm.neat.mvot.discrepancy import codebook_distances, token_discrepancy_loss
from hrm.neat.mvot.path_targets import path_order, random_path_prefixes, segment_target_grids, shortest_path_prefix
from hrm.neat.mvot.render import PALETTE, read_cells, render_grids
from hrm.neat.mvot.scoring import picture_quality, score
from hrm.neat.mvot.thoughts import IMAGE_OFFSET, MVoTConfig, VisualThoughtReasoner, train_on_batch
from hrm.neat.mvot.tokenizer import GridTokenizer, TokenizerConfig, train_tokenizer

TEXT_VOCAB = 6
TINY_MODEL = dict(name="trm", hidden_dim=32, num_heads=2, expansion=2.0, num_layers=1, deep_recursions=1,
                  latent_recursions=2, puzzle_emb_dim=0, num_puzzle_tokens=0, max_segments=3, loss="softmax",
                  forward_dtype="float32")
TINY_TOKENIZER = dict(pixels_per_cell=1, cells_per_token=2, codebook_size=64, code_dim=8, channels=32)

# ---------------------------------------------------------------------------------------------------------------
# Token discrepancy loss


def naive_discrepancy(logits, labels, is_image, distances, offset):
    """Sum over image positions of sum_j S[t, j] P_j, P the softmax over the image slice, by plain loops; then
    divided by the number of image positions."""
    total, count = 0.0, 0
    num_codes = distances.shape[0]
    for b in range(logits.shape[0]):
        for i in range(logits.shape[1]):
            if not is_image[b, i]:
                continue
            row = [float(logits[b, i, offset + j]) for j in range(num_codes)]
            top = max(row)
            exps = [math.exp(x - top) for x in row]
            target = int(labels[b, i]) - offset
            total += sum(float(distances[target, j]) * exps[j] / sum(exps) for j in range(num_codes))
            count += 1
    return total / count


def random_unified_batch(seed=0, num_codes=5):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 7, TEXT_VOCAB + num_codes, generator=generator, dtype=torch.float64) * 2
    is_image = torch.rand(3, 7, generator=generator) < 0.5
    is_image[0, 0] = True
    labels = torch.where(is_image, TEXT_VOCAB + torch.randint(num_codes, (3, 7), generator=generator),
                         torch.randint(TEXT_VOCAB, (3, 7), generator=generator))
    codebook = torch.randn(num_codes, 4, generator=generator, dtype=torch.float64)
    return logits, labels, is_image, codebook


@pytest.mark.parametrize("distance", ["euclidean", "squared"])
def test_discrepancy_matches_naive_double_loop(distance):
    logits, labels, is_image, codebook = random_unified_batch()
    distances = codebook_distances(codebook, distance)
    for t in range(5):
        for j in range(5):
            d2 = sum((float(codebook[t, k]) - float(codebook[j, k])) ** 2 for k in range(4))
            assert distances[t, j].item() == pytest.approx(math.sqrt(d2) if distance == "euclidean" else d2 / 4,
                                                           abs=1e-12)
    loss = token_discrepancy_loss(logits, labels, is_image, distances, TEXT_VOCAB)
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(naive_discrepancy(logits, labels, is_image, distances, TEXT_VOCAB), abs=1e-12)


def test_discrepancy_counts_image_positions_and_image_logits_only():
    logits, labels, is_image, codebook = random_unified_batch(seed=1)
    distances = codebook_distances(codebook)
    loss = token_discrepancy_loss(logits, labels, is_image, distances, TEXT_VOCAB)
    edited = logits.clone()
    edited[~is_image] = torch.randn_like(edited[~is_image]) * 10  # every logit at text positions
    edited[..., :TEXT_VOCAB] += 5.0  # text-vocabulary logits everywhere
    assert torch.equal(token_discrepancy_loss(edited, labels, is_image, distances, TEXT_VOCAB), loss)
    edited[0, 0, TEXT_VOCAB:] += torch.arange(5, dtype=torch.float64)  # image logits at an image position
    assert token_discrepancy_loss(edited, labels, is_image, distances, TEXT_VOCAB) != loss
    with pytest.raises(ValueError, match="not an image-token id"):
        token_discrepancy_loss(logits, torch.zeros_like(labels), is_image, distances, TEXT_VOCAB)
    assert token_discrepancy_loss(logits, labels, torch.zeros_like(is_image), distances, TEXT_VOCAB).item() == 0


def test_discrepancy_sees_what_cross_entropy_cannot():
    """Same probability on the target (same CE), remaining mass on a near or a far code: only L_D differs.
    A one-hot prediction on the target costs nothing (S[t, t] = 0)."""
    codebook = torch.tensor([[0.0], [0.1], [5.0]], dtype=torch.float64)  # code 1 near code 0, code 2 far
    distances = codebook_distances(codebook)
    labels = torch.tensor([[TEXT_VOCAB]])
    is_image = torch.ones(1, 1, dtype=torch.bool)

    def logits_for(probs):
        return torch.cat((torch.zeros(TEXT_VOCAB), torch.tensor(probs).log())).view(1, 1, -1).double()

    near, far = logits_for([0.6, 0.4 - 1e-9, 1e-9]), logits_for([0.6, 1e-9, 0.4 - 1e-9])
    ce = [F.cross_entropy(x[0, :, TEXT_VOCAB:], labels[0] - TEXT_VOCAB) for x in (near, far)]
    assert ce[0].item() == pytest.approx(ce[1].item(), abs=1e-9)
    ld_near, ld_far = (token_discrepancy_loss(x, labels, is_image, distances, TEXT_VOCAB) for x in (near, far))
    assert 0 < ld_near < ld_far
    one_hot = logits_for([1 - 2e-30, 1e-30, 1e-30])
    one_hot_loss = token_discrepancy_loss(one_hot, labels, is_image, distances, TEXT_VOCAB)
    assert one_hot_loss.item() == pytest.approx(0, abs=1e-25)


def test_discrepancy_gradient_identity():
    """dL_D/dlogit_j = P_j (S[t, j] - sum_k P_k S[t, k]) / (image positions), zero on text logits."""
    logits, labels, is_image, codebook = random_unified_batch(seed=2)
    distances = codebook_distances(codebook)
    logits.requires_grad_(True)
    token_discrepancy_loss(logits, labels, is_image, distances, TEXT_VOCAB).backward()
    probs = logits.detach()[..., TEXT_VOCAB:].softmax(-1)
    rows = distances[(labels - TEXT_VOCAB).clamp_min(0)]
    expected = probs * (rows - (probs * rows).sum(-1, keepdim=True)) / is_image.sum()
    expected = torch.where(is_image.unsqueeze(-1), expected, 0)
    assert torch.allclose(logits.grad[..., TEXT_VOCAB:], expected, atol=1e-14)
    assert torch.all(logits.grad[..., :TEXT_VOCAB] == 0)


# ---------------------------------------------------------------------------------------------------------------
# Renderer and path targets on a hand-made maze

HAND_MAZE = ["S  #",
             "## #",
             "#  #",
             "# G#"]
HAND_LABEL = ["Soo#",
              "##o#",
              "# o#",
              "# G#"]


def hand_maze() -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(maze_from_text(HAND_MAZE)).long().view(1, -1),
            torch.from_numpy(maze_from_text(HAND_LABEL)).long().view(1, -1))


def test_render_paints_each_cell_its_colour_and_reads_back():
    inputs, labels = hand_maze()
    grid = labels.view(1, 4, 4)
    pictures = render_grids(grid, pixels_per_cell=3)
    assert pictures.shape == (1, 3, 12, 12)
    for r in range(4):
        for c in range(4):
            block = pictures[0, :, 3 * r:3 * r + 3, 3 * c:3 * c + 3]
            assert torch.equal(block, PALETTE[grid[0, r, c]].view(3, 1, 1).expand(3, 3, 3))
    assert pictures[0, :, 0, 0].tolist() == PALETTE[START_ID].tolist()
    assert pictures[0, :, 11, 11].tolist() == PALETTE[WALL_ID].tolist()
    assert torch.equal(read_cells(pictures, 3), grid)
    noisy = (pictures + 0.05 * torch.randn(pictures.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert torch.equal(read_cells(noisy, 3), grid)
    with pytest.raises(ValueError, match="token ids"):
        render_grids(grid + 10, 2)


def test_path_order_and_segment_targets():
    inputs, labels = hand_maze()
    order = path_order(inputs, labels).view(4, 4)
    assert order.tolist() == [[0, 1, 2, 0], [0, 0, 3, 0], [0, 0, 4, 0], [0, 0, 0, 0]]
    # 4 path cells over T = 3 segments: min(t·k, 4), all 4 at t = 3
    for k, expected in ((1, [1, 2, 4]), (2, [2, 4, 4])):
        shown = [(segment_target_grids(inputs, labels, torch.tensor([t]), 3, k) == PATH_ID).sum().item()
                 for t in (1, 2, 3)]
        assert shown == expected
    first = segment_target_grids(inputs, labels, torch.tensor([1]), 3, 2).view(4, 4)
    assert first[0].tolist() == [START_ID, PATH_ID, PATH_ID, WALL_ID] and first[1, 2] == OPEN_ID
    assert torch.equal(segment_target_grids(inputs, labels, torch.tensor([3]), 3, 1), labels)
    assert torch.equal(segment_target_grids(inputs, labels, torch.tensor([0]), 3, 2), inputs)
    assert first[3, 2] == GOAL_ID


def test_shortest_path_prefix_accepts_any_tied_path_start_and_nothing_else():
    """Open 3x3 room, S top-left, G bottom-right: every monotone path is shortest (4 moves)."""
    room = torch.from_numpy(maze_from_text(["S  ", "   ", "  G"])).long().view(1, -1)
    cases = {  # drawn cells (row, col) -> valid
        ((0, 1),): True, ((1, 0),): True, ((0, 1), (1, 1)): True, ((1, 0), (1, 1)): True,
        ((0, 1), (0, 2)): True, ((0, 1), (0, 2), (1, 2)): True,
        (): False,  # nothing drawn
        ((1, 1),): False,  # skips the first cell
        ((0, 1), (1, 0)): False,  # two cells one move from S
        ((0, 1), (2, 0)): False,  # cells at distances 1 and 2 that do not touch
        ((0, 1), (1, 2)): False,  # a gap at distance 2
    }
    drawn = torch.zeros(len(cases), 9, dtype=torch.bool)
    for i, cells in enumerate(cases):
        for r, c in cells:
            drawn[i, 3 * r + c] = True
    valid, m = shortest_path_prefix(room.expand(len(cases), 9), drawn)
    assert valid.tolist() == list(cases.values())
    assert m.tolist() == [len(cells) for cells in cases]
    inputs, labels = hand_maze()
    order = path_order(inputs, labels)
    for shown, ok in ((2, True), (4, True)):
        assert shortest_path_prefix(inputs, (order > 0) & (order <= shown))[0].item() == ok
    assert not shortest_path_prefix(inputs, (order > 0) | (inputs == OPEN_ID))[0].item()  # a dead end drawn too


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer


@pytest.fixture(scope="module")
def mazes() -> tuple[torch.Tensor, torch.Tensor]:
    batch = generate_mazes(160, size=8, min_path=8, rng=np.random.default_rng(0), seen=set())
    return (torch.from_numpy(batch.inputs.reshape(160, -1)).long(),
            torch.from_numpy(batch.labels.reshape(160, -1)).long())


@pytest.fixture(scope="module")
def trained_tokenizer(mazes) -> GridTokenizer:
    inputs, labels = mazes
    torch.manual_seed(0)
    tokenizer = GridTokenizer(TokenizerConfig(**TINY_TOKENIZER))
    generator = torch.Generator().manual_seed(0)

    def batches():
        while True:
            rows = torch.randint(128, (32,), generator=generator)
            yield random_path_prefixes(inputs[rows], labels[rows], generator)

    history = train_tokenizer(tokenizer, batches(), num_steps=200, lr=1e-2)
    assert history[-1]["recon_mse"] < history[0]["recon_mse"]
    return tokenizer


def test_tokenizer_shapes():
    tokenizer = GridTokenizer(TokenizerConfig(**TINY_TOKENIZER))
    grids = torch.full((5, 64), OPEN_ID)
    codes = tokenizer.tokenize_grids(grids)
    assert codes.shape == (5, 16) and codes.dtype == torch.long
    assert tokenizer.encode(render_grids(grids.view(5, 8, 8), 1)).shape == (5, 16)
    assert tokenizer.decode(codes).shape == (5, 3, 8, 8)
    assert tokenizer.decode_grids(codes).shape == (5, 64)
    assert tokenizer.codebook.shape == (64, 8)
    with pytest.raises(ValueError, match="does not divide"):
        tokenizer.tokenize_grids(torch.full((1, 49), OPEN_ID))


def test_trained_tokenizer_beats_a_trivial_baseline(trained_tokenizer, mazes):
    """Held-out partial-path pictures: the round trip through 16 codes is far closer than the mean picture, and
    reads back more cells right than the best constant guess (every cell the most common token)."""
    inputs, labels = mazes
    grids = random_path_prefixes(inputs[128:], labels[128:], torch.Generator().manual_seed(1))
    quality = picture_quality(trained_tokenizer, trained_tokenizer.tokenize_grids(grids), grids)
    pictures = render_grids(grids.view(-1, 8, 8), 1)
    mean_picture_mse = (pictures - pictures.mean(0)).square().mean().item()
    majority = torch.bincount(grids.flatten()).max().item() / grids.numel()
    assert quality["pixel_mse"] < 0.25 * mean_picture_mse
    assert quality["cell_accuracy"] > majority + 0.2


# ---------------------------------------------------------------------------------------------------------------
# Configuration, interleaving, learning


def mvot_tree(**overrides) -> dict:
    return {"model": dict(TINY_MODEL), "tokenizer": dict(TINY_TOKENIZER), "maze_size": 8, **overrides}


@pytest.mark.parametrize("name", ["trm", "hrm"])
def test_config_builds_either_reasoner(name, trained_tokenizer):
    model_options = dict(TINY_MODEL) if name == "trm" else dict(
        name="hrm", hidden_dim=32, num_heads=2, high_layers=1, low_layers=1, high_cycles=1, low_cycles=2,
        puzzle_emb_dim=0, max_segments=3, loss="softmax", forward_dtype="float32")
    config = build(MVoTConfig, mvot_tree(model=model_options), "mvot.")
    model = VisualThoughtReasoner(config, trained_tokenizer)
    assert type(model.reasoner).__name__ == name.upper()
    assert model.reasoner.config.seq_len == 64 + 16 and model.reasoner.config.vocab_size == IMAGE_OFFSET + 64
    text_only = build(MVoTConfig, mvot_tree(model=model_options, use_visual_thoughts=False), "mvot.")
    assert VisualThoughtReasoner(text_only, None).reasoner.config.seq_len == 64


@pytest.mark.parametrize("overrides, message", [
    (dict(model=dict(TINY_MODEL, num_layrs=2)), "unknown config key 'mvot.model.num_layrs'"),
    (dict(model=dict(TINY_MODEL, name="gpt")), "must name a model"),
    (dict(model=dict(TINY_MODEL, max_segments=0)), "max_segments"),
    (dict(maze_size=9), "multiple of mvot.tokenizer.cells_per_token"),
    (dict(discrepancy_weight=-1.0), "discrepancy_weight"),
    (dict(cells_per_thought=0), "cells_per_thought"),
    (dict(distance="cosine"), "distance"),
    (dict(tokenizer=dict(TINY_TOKENIZER, pixels_per_cell=3)), "power of two"),
    (dict(tokenizer=dict(TINY_TOKENIZER, endpoint_weight=0.5)), "endpoint_weight"),
    (dict(num_segments=4), "unknown config key"),
])
def test_bad_options_raise_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(MVoTConfig, mvot_tree(**overrides), "mvot.")


def test_visual_thoughts_are_interleaved(trained_tokenizer, mazes):
    """Segment t reads v_{t-1} in the image slots: targets start at the bare maze and end at the answer, and a
    different fed-back thought changes what the next segment writes."""
    inputs, labels = mazes
    config = build(MVoTConfig, mvot_tree(), "mvot.")
    torch.manual_seed(0)
    model = VisualThoughtReasoner(config, trained_tokenizer)
    targets = model.thought_targets(inputs[:4], labels[:4])
    assert targets.shape == (4, 4, 16)
    assert torch.equal(targets[:, 0], trained_tokenizer.tokenize_grids(inputs[:4]))
    assert torch.equal(targets[:, -1], trained_tokenizer.tokenize_grids(labels[:4]))
    z_high, z_low = model.reasoner.initial_states(4, "cpu")
    logits = [model.segment(z_high, z_low, inputs[:4], thought)[2] for thought in (targets[:, 0], targets[:, -1])]
    assert logits[0].shape == (4, 64 + 16, IMAGE_OFFSET + 64)
    assert not torch.allclose(logits[0], logits[1])
    answers, thoughts = model.solve(inputs[:4], targets[:, 0])
    assert answers.shape == (4, 3, 64) and thoughts.shape == (4, 3, 16)
    assert int(thoughts.max()) < 64


def test_training_lowers_the_loss(trained_tokenizer, mazes):
    inputs, labels = mazes
    config = build(MVoTConfig, mvot_tree(), "mvot.")
    torch.manual_seed(0)
    model = VisualThoughtReasoner(config, trained_tokenizer)
    targets = model.thought_targets(inputs[:32], labels[:32])
    optimizer = torch.optim.AdamW(model.reasoner.parameters(), lr=3e-3)
    before = score(model, inputs[:32], labels[:32], targets)
    model.train()
    losses = [train_on_batch(model, optimizer, inputs[:32], labels[:32], targets) for _ in range(12)]
    first, last = losses[0][-1], losses[-1][-1]
    assert last["loss"] < 0.75 * first["loss"]
    assert last["discrepancy"] < first["discrepancy"] and last["ce"] < first["ce"]
    after = score(model, inputs[:32], labels[:32], targets)
    assert after["thought_token_accuracy"] > before["thought_token_accuracy"] + 0.04


@pytest.mark.parametrize("teacher_forcing", [True, False])
def test_training_feeds_target_or_own_thoughts(teacher_forcing, trained_tokenizer, mazes):
    """Teacher forcing: segment t reads the target v_{t-1}; without it, the model's own argmax of segment t - 1.
    Either way the loss of a segment depends only on what it read, so a model with frozen weights (lr 0) gives
    the teacher-forced loss only when it is fed the targets."""
    inputs, labels = mazes
    config = build(MVoTConfig, mvot_tree(teacher_forcing=teacher_forcing), "mvot.")
    torch.manual_seed(0)
    model = VisualThoughtReasoner(config, trained_tokenizer)
    targets = model.thought_targets(inputs[:4], labels[:4])
    parts = train_on_batch(model, torch.optim.SGD(model.reasoner.parameters(), lr=0.0), inputs[:4], labels[:4], targets)
    z_high, z_low = model.reasoner.initial_states(4, "cpu")
    for t in range(1, 3):  # replay segments 1-2 feeding the targets
        z_high, z_low, logits = model.segment(z_high, z_low, inputs[:4], targets[:, t - 1])
    loss = model.segment_loss(logits, labels[:4], targets[:, 2])[0].item()
    assert (parts[1]["loss"] == pytest.approx(loss, rel=1e-6)) == teacher_forcing
