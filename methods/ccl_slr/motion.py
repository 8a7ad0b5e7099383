"""The motion stream: the shared sign encoder reading the frame differences of the pose it
would read, the second skeleton "modality" of the pose-only adaptation.

What the motion input is (``motion_features``):

- The joint stream's encoder input first: the per-part normalised coordinates of
  ``methods.encoders.stgcn.part_features`` (body over its clip box, hands about their wrist
  and the face about the nose tip over the body scale, then the clip's ``affine``, clipped
  to [-1, 1]), with zeros where a point is not kept (invalid, under the confidence
  threshold, a padded frame, or a clip the release's rules zero).
- Motion at frame t is ``scale x (x[t+1] - x[t])`` for every point kept at both t and t+1,
  and zero elsewhere, the clip's last real frame included (it has no successor): the
  forward difference of CrosSCLR / AimCLR's motion stream, taken of the normalised
  coordinates so that the encoder sees displacements in body-scale units. Taken of the raw
  coordinates instead, the encoder's per-clip normalisation would divide the motion by the
  box of the displacements (each clip's fastest motion would become 1, so speed would be
  lost), and the view's affine translation would be added to every displacement. Here a
  translation of the clip or of its ``affine`` leaves the motion unchanged, and the
  affine's linear part transforms it as it transforms the pose.
- Hands and face stay relative to their anchors, so their motion is their articulation's;
  the global motion of a hand is the body stream's wrist motion. Where a part's anchor is
  not kept, the release's normalisation takes the part's points relative to a zeroed
  anchor (absolute positions over the body scale, mostly clipped to 1): the encoder's
  function, which the joint stream keeps, but a difference across such a frame would be a
  jump of the whole part, so motion is defined only where the anchor is kept at both
  frames too.
- The third channel, which carries the confidence in the joint stream, is the smaller
  confidence of the two ends (zero where the difference is not defined).
- ``scale`` (``model.ccl.motion.scale``) brings displacements per frame to the range of
  the coordinates the joint stream reads (see ``presets/_base.py`` for the measurement).

``MotionSTGCN`` is the shared encoder class with only its input changed (``normalized``), so
its parameters and state-dict keys are the shared encoder's; padding follows the encoder's
``padding`` switch ('repeat' repeats the last real frame, whose motion is zero).
"""

from __future__ import annotations

from typing import Any

import torch

from methods.encoders.stgcn import PartwiseSTGCN, part_features, repeat_last_frame


def motion_features(part: torch.Tensor, frame_mask: torch.Tensor, scale: float,
                    anchor: int | None = None) -> torch.Tensor:
    """Motion (B, T, V, 3) of one part's normalised features (B, T, V, 3) of (x, y,
    confidence) with zeros where a point is not kept: ``scale`` x the forward difference
    of (x, y) and the smaller confidence, where the point is kept at t and at t + 1 in real
    frames (and so is the part's ``anchor`` point, for a part taken relative to it); zero
    elsewhere (the last real frame, padded frames, missing ends)."""
    kept = (part[..., 2] > 0) & frame_mask[..., None]
    if anchor is not None:
        kept = kept & kept[:, :, anchor:anchor + 1]
    both = kept[:, :-1] & kept[:, 1:]
    step = (part[:, 1:, :, :2] - part[:, :-1, :, :2]) * scale
    conf = torch.minimum(part[:, 1:, :, 2], part[:, :-1, :, 2])
    out = torch.cat([step, conf[..., None]], dim=-1) * both[..., None].to(part.dtype)
    return torch.cat([out, torch.zeros_like(part[:, :1])], dim=1)


class MotionSTGCN(PartwiseSTGCN):
    """The shared part-wise ST-GCN on the motion of the normalised pose (the motion stream's
    encoder); everything after the input is the shared encoder's."""

    def __init__(self, *args: Any, scale: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.conf_threshold < 0:  # kept points are told by a confidence above it
            raise ValueError("the motion stream needs model.encoder.conf_threshold >= 0")
        self.scale = float(scale)

    def normalized(self, keypoints: torch.Tensor, confidence: torch.Tensor, valid: torch.Tensor,
                   frame_mask: torch.Tensor, affine: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        """Per-part motion (B, T, V_p, 3) of what the shared encoder would read, padded as
        ``padding`` says."""
        x = part_features(keypoints, confidence, valid, frame_mask, self.slices, self.anchors,
                          self.conf_threshold, affine, self.part_scale)
        x = {name: motion_features(feats, frame_mask, self.scale, self.anchors.get(name))
             for name, feats in x.items()}
        if self.padding == "repeat":
            x = {name: repeat_last_frame(feats, frame_mask) for name, feats in x.items()}
        return x
