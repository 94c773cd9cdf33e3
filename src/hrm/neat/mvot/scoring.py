"""Scores for a trained visual-thought reasoner: the final answer, and each segment's visual thought as tokens
and as the picture it decodes to (read back cell by cell against the target picture).

Axis legend: b batch, l maze cells, n visual tokens, T segments.
"""

from __future__ import annotations

import torch

from hrm.data.maze import OPEN_ID, PATH_ID, maze_metrics
from hrm.neat.mvot.discrepancy import codebook_distances
from hrm.neat.mvot.path_targets import grid_side, segment_target_grids, shortest_path_prefix
from hrm.neat.mvot.render import read_cells, render_grids
from hrm.neat.mvot.thoughts import VisualThoughtReasoner
from hrm.neat.mvot.tokenizer import GridTokenizer


@torch.no_grad()
def picture_quality(tokenizer: GridTokenizer, codes: torch.Tensor, grids: torch.Tensor) -> dict[str, float]:
    """How well codes [m, n] decode to the pictures of grids [m, l] (target pictures: a maze with a path prefix):
    pixel MSE against the rendered grid, cells read back right, intersection-over-union of the drawn path cells
    (pooled over pictures), whole pictures read back exactly; and whether the drawn path cells are the start of
    some shortest path (`shortest_path_prefix`, which accepts any of tied paths): the fraction that are, the mean
    number of cells they draw, and the fraction that are a prefix of exactly the target's length."""
    pixels_per_cell = tokenizer.config.pixels_per_cell
    side = grid_side(grids.shape[-1])
    decoded = tokenizer.decode(codes)
    read_back = read_cells(decoded, pixels_per_cell).flatten(1)
    drawn, wanted = read_back == PATH_ID, grids == PATH_ID
    valid, length = shortest_path_prefix(torch.where(wanted, OPEN_ID, grids), drawn)
    return {
        "prefix_valid": valid.float().mean().item(),
        "prefix_length": length[valid].float().mean().item() if valid.any() else 0.0,
        "prefix_at_target_length": (valid & (length == wanted.sum(-1))).float().mean().item(),
        "target_length": wanted.sum(-1).float().mean().item(),
        "pixel_mse": (decoded - render_grids(grids.view(-1, side, side), pixels_per_cell)).square().mean().item(),
        "cell_accuracy": (read_back == grids).float().mean().item(),
        "path_iou": ((drawn & wanted).sum() / (drawn | wanted).sum().clamp_min(1)).item(),
        "picture_exact": (read_back == grids).all(-1).float().mean().item(),
    }


@torch.no_grad()
def score(model: VisualThoughtReasoner, inputs: torch.Tensor, labels: torch.Tensor,
          targets: torch.Tensor | None) -> dict:
    """inputs, labels [b, l]; targets [b, T + 1, n] (None without visual thoughts) -> metrics of the last
    segment's answer, and of every segment's visual thought (means over segments, then per segment)."""
    model.eval()
    answers, thoughts = model.solve(inputs, None if targets is None else targets[:, 0])
    final = maze_metrics(inputs.cpu().numpy(), labels.cpu().numpy(), answers[:, -1].cpu().numpy())
    result = {"answer_exact": final["exact_match_accuracy"],
              "answer_valid_shortest_path": final["valid_shortest_path_accuracy"],
              "answer_exact_by_segment": [(a == labels).all(-1).float().mean().item() for a in answers.unbind(1)]}
    if thoughts is None:
        return result
    wanted = targets[:, 1:]  # [b, T, n]
    num_segments = wanted.shape[1]
    grids = torch.stack([segment_target_grids(inputs, labels, torch.full_like(inputs[:, 0], t), num_segments,
                                              model.config.cells_per_thought)
                         for t in range(1, num_segments + 1)], dim=1)  # [b, T, l]
    distance = codebook_distances(model.tokenizer.codebook, "euclidean").float()
    result.update({
        "thought_token_accuracy": (thoughts == wanted).float().mean().item(),
        "thought_token_accuracy_by_segment": (thoughts == wanted).float().mean((0, 2)).tolist(),
        "thought_embedding_distance": distance[wanted, thoughts].mean().item(),
        "thought_pictures": picture_quality(model.tokenizer, thoughts.flatten(0, 1), grids.flatten(0, 1)),
        "thought_pictures_by_segment": [picture_quality(model.tokenizer, thoughts[:, t], grids[:, t])
                                        for t in range(num_segments)],
        "tokenizer_ceiling": picture_quality(model.tokenizer, wanted.flatten(0, 1), grids.flatten(0, 1)),
    })
    return result
