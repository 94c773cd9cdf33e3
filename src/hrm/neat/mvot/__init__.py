"""MVoT (Multimodal Visualization-of-Thought) for HRM/TRM on mazes: rendered grids, a VQ image tokenizer,
visual-thought targets, the token discrepancy loss, and a reasoner that writes one visual thought per segment.
See docs/neat-mvot.md.
"""
from hrm.neat.mvot.discrepancy import codebook_distances, token_discrepancy_loss  # noqa: F401
from hrm.neat.mvot.thoughts import MVoTConfig, VisualThoughtReasoner, train_on_batch  # noqa: F401
from hrm.neat.mvot.tokenizer import GridTokenizer, TokenizerConfig, train_tokenizer  # noqa: F401
