"""Fine-tuning and customisation from scratch: LoRA adapters and their merge, the prompt-loss
mask of instruction tuning, direct preference optimisation, post-training quantisation, and
the measurements of chapter 7 (compute, optimiser memory, forgetting, the learned update).

Used in: chapter 7.
"""
