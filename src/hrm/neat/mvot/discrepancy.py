"""MVoT's token discrepancy loss (Li et al. 2025, arXiv 2501.07542, section 3.2).

    L_D = mean over image positions i of  sum_j S[t_i, j] * P_i(j)

S[t, j] is the distance between codebook embeddings e_t and e_j (so S[t, t] = 0) and P_i the model's
softmax over the image-token slice of the vocabulary at position i. Cross-entropy only rewards mass on the
target code; L_D also says where the rest of the mass should go: onto codes whose embeddings (hence decoded
pixels) are near the target's. Its gradient is dL_D/dlogit_ij = P_ij (S[t_i, j] - sum_k P_ik S[t_i, k]).

Distance: "euclidean" is ||e_t - e_j|| as in the authors' code (`pairwise_euclidean_distance`); "squared"
is ||e_t - e_j||² / e, the paper's MSE. Like the code, S is computed once in float64 from a frozen codebook
and the loss averages over image positions (the paper writes a sum).

Axis legend: b batch, l sequence positions, v unified vocabulary, N image codes, e code width.
"""

from __future__ import annotations

from typing import Literal

import torch

Distance = Literal["euclidean", "squared"]


def codebook_distances(codebook: torch.Tensor, distance: Distance = "euclidean") -> torch.Tensor:
    """codebook [N, e] -> S [N, N] float64, S[t, j] = distance between entries t and j (zero diagonal)."""
    codes = codebook.detach().double()
    squared = (codes.unsqueeze(1) - codes.unsqueeze(0)).square().sum(-1)
    if distance == "euclidean":
        return squared.sqrt()
    if distance == "squared":
        return squared / codes.shape[-1]
    raise ValueError(f"distance must be 'euclidean' or 'squared', got {distance!r}")


def token_discrepancy_loss(logits: torch.Tensor, labels: torch.Tensor, is_image: torch.Tensor,
                           distances: torch.Tensor, image_offset: int) -> torch.Tensor:
    """L_D over the image positions of a unified sequence.

    logits [b, l, v] over the unified vocabulary, whose ids image_offset .. image_offset + N - 1 are the image
    codes; labels [b, l] ids; is_image [b, l] bool, the positions to score (their labels must be image ids);
    distances S [N, N]. Text positions and text logits contribute nothing. Returns a scalar in logits' dtype
    (0 when no position is an image position).
    """
    num_codes = distances.shape[0]
    image_logits = logits[is_image][:, image_offset:image_offset + num_codes]  # [m, N]
    codes = labels[is_image] - image_offset  # [m]
    if codes.numel() and (codes.min() < 0 or codes.max() >= num_codes):
        raise ValueError("is_image marks a position whose label is not an image-token id")
    if not codes.numel():
        return logits.sum() * 0
    probs = image_logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(-1)  # bf16 logits: fp32
    expected = (probs * distances.to(probs.dtype)[codes]).sum(-1)  # [m]
    return expected.mean().to(logits.dtype)
