"""Held-out scoring of byte language models: bits per byte of each window, and the standard error of a
mean over windows grouped by source file (windows cut from one file are correlated, so the per-window
standard error alone understates the uncertainty of a held-out score).

Axis legend: n windows, l window length + 1 (BOS first), v vocab.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F


@torch.no_grad()
def bits_per_window(logits_of: Callable[[torch.Tensor], torch.Tensor], windows: torch.Tensor,
                    batch_size: int = 16) -> torch.Tensor:
    """windows [n, l] -> [n] float64, the mean bits of predicting windows[:, 1:] from windows[:, :-1] in each
    window; logits_of maps ids [b, l - 1] to logits [b, l - 1, v]."""
    scores = []
    for batch in windows.split(batch_size):
        logits = logits_of(batch[:, :-1])
        nats = F.cross_entropy(logits.transpose(1, 2).float(), batch[:, 1:], reduction="none")  # [b, l - 1]
        scores.append(nats.double().mean(dim=1) / math.log(2))
    return torch.cat(scores)


def mean_and_se(values: torch.Tensor, clusters: torch.Tensor | None = None) -> tuple[float, float]:
    """values [n] -> (mean, standard error of the mean). With clusters [n] (e.g. source-file ids), the
    cluster-robust SE sqrt(G / (G - 1) * sum_g (sum_{i in g} (x_i - mean))^2) / n over the G clusters, which
    is std / sqrt(n) when every value is its own cluster and the SE of the G cluster means when the values
    of a cluster are equal."""
    values = values.double()
    n, mean = values.numel(), values.mean()
    if clusters is None:
        clusters = torch.arange(n)
    _, cluster_index = clusters.unique(return_inverse=True)
    num_clusters = int(cluster_index.max()) + 1
    if num_clusters < 2:
        raise ValueError("a standard error needs at least two clusters")
    sums = torch.zeros(num_clusters, dtype=torch.float64).index_add_(0, cluster_index, values - mean)
    return mean.item(), math.sqrt(num_clusters / (num_clusters - 1) * sums.square().sum().item()) / n
