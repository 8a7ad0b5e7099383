"""The pre-training model of a method without a pre-training stage: its encoder alone."""

from __future__ import annotations

from torch import nn


class EncoderOnly(nn.Module):
    """Holds a sign encoder for a checkpoint to initialise (it is never trained itself)."""

    def __init__(self, sign_encoder: nn.Module) -> None:
        super().__init__()
        self.sign_encoder = sign_encoder
        self.input_joints = sign_encoder.input_joints
