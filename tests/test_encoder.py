"""The shared sign encoder's switches and the release's rules that the golden fixture does
not reach on its own: padding, normalisation, degenerate clips, the augmentation transform.
(tests/test_encoder_golden.py pins the function itself to Uni-Sign's release.)"""

import pytest
import torch

from methods.encoders.stgcn import PartwiseSTGCN, part_features

SMALL = dict(embed=8, spatial=[8, 16], temporal=[16, 16], d_model=32)


def clips(b: int = 2, t: int = 12, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    enc = PartwiseSTGCN(**SMALL)
    v = len(enc.input_joints)
    kp = torch.rand(b, t, v, 2, generator=g) * 400 + 50
    conf = torch.rand(b, t, v, generator=g) * 0.6 + 0.4
    valid = torch.ones(b, t, v, dtype=torch.bool)
    mask = torch.ones(b, t, dtype=torch.bool)
    return kp, conf, valid, mask


def test_zero_padding_makes_features_independent_of_the_batch():
    torch.manual_seed(0)
    enc = PartwiseSTGCN(**SMALL, padding="zero",
                        context={"layers": 1, "heads": 2, "ff": 32, "dropout": 0.0}).eval()
    kp, conf, valid, mask = clips()
    mask[1, 7:] = False
    with torch.no_grad():
        full = enc(kp, conf, valid, mask)
        alone = enc(kp[1:, :7], conf[1:, :7], valid[1:, :7], mask[1:, :7])
    torch.testing.assert_close(full[1, :7], alone[0], atol=1e-5, rtol=1e-4)
    assert full[1, 7:].abs().max() == 0


def test_repeat_padding_is_the_clip_with_its_last_frame_repeated():
    """The release pads a batch by repeating each clip's last frame and runs the encoder
    over the padded length: a padded clip equals that clip with the frame repeated."""
    torch.manual_seed(0)
    enc = PartwiseSTGCN(**SMALL).eval()
    kp, conf, valid, mask = clips()
    mask[1, 7:] = False
    repeated = [x[1:].clone() for x in (kp, conf)]
    for x in repeated:
        x[:, 7:] = x[:, 6:7]
    with torch.no_grad():
        full = enc(kp, conf, valid, mask)
        explicit = enc(repeated[0], repeated[1], valid[1:], torch.ones_like(mask[1:]))
        alone = enc(kp[1:, :7], conf[1:, :7], valid[1:, :7], mask[1:, :7])
    torch.testing.assert_close(full[1, :7], explicit[0, :7], atol=1e-5, rtol=1e-4)
    # ... so, unlike padding='zero', the last frames see the batch's padded length
    assert not torch.allclose(full[1, :7], alone[0], atol=1e-4)


def test_normalisation_is_invariant_to_translation_and_scale_and_masks_weak_points():
    enc = PartwiseSTGCN(**SMALL)
    kp, conf, valid, mask = clips(b=1, t=6)
    a = enc.normalized(kp, conf, valid, mask)
    b = enc.normalized(kp * 2 + 17, conf, valid, mask)
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-5)
    conf[0, 2, 0] = 0.3  # at the threshold: zeroed, coordinates and confidence
    c = enc.normalized(kp, conf, valid, mask)
    assert c["body"][0, 2, 0].abs().sum() == 0 and c["body"][0, 3, 0].abs().sum() > 0


@pytest.mark.parametrize("confident", [3, 4])
def test_a_clip_with_fewer_than_four_confident_body_points_is_zero(confident):
    enc = PartwiseSTGCN(**SMALL)
    kp, conf, valid, mask = clips(b=1, t=6)
    body = enc.slices["body"]
    conf[:, :, body] = 0.1
    conf[0, 0, body.start:body.start + confident] = 0.9  # over the whole clip
    parts = enc.normalized(kp, conf, valid, mask)
    zero = all(p.abs().sum() == 0 for p in parts.values())
    assert zero == (confident < 4)


def test_a_box_of_size_zero_zeroes_the_clip():
    enc = PartwiseSTGCN(**SMALL)
    kp, conf, valid, mask = clips(b=1, t=6)
    kp[:, :, enc.slices["body"]] = 100.0
    assert all(p.abs().sum() == 0 for p in enc.normalized(kp, conf, valid, mask).values())


def test_hands_are_relative_to_their_own_wrist_over_the_body_scale():
    enc = PartwiseSTGCN(**SMALL)
    kp, conf, valid, mask = clips(b=1, t=3)
    body = enc.slices["body"]
    xy = kp[0, :, body]
    scale = (xy.amax(dim=(0, 1)) - xy.amin(dim=(0, 1))).max()
    hand = enc.slices["left_hand"]
    want = ((kp[0, :, hand] - kp[0, :, hand.start:hand.start + 1]) / scale).clamp(-1, 1)
    got = enc.normalized(kp, conf, valid, mask)["left_hand"][0, ..., :2]
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_the_affine_transform_acts_on_normalised_coordinates():
    enc = PartwiseSTGCN(**SMALL)
    kp, conf, valid, mask = clips(b=1, t=4)
    plain = part_features(kp, conf, valid, mask, enc.slices, enc.anchors, 0.3)
    rot = torch.tensor([[[0.0, -0.5, 0.1], [0.5, 0.0, -0.2]]])  # scale 0.5, 90 degrees, shift
    moved = part_features(kp, conf, valid, mask, enc.slices, enc.anchors, 0.3, rot)
    body = plain["body"][0, ..., :2]
    torch.testing.assert_close(moved["body"][0, ..., :2],
                               (body @ rot[0, :, :2].T + rot[0, :, 2]).clamp(-1, 1))
    hand = plain["left_hand"][0, ..., :2]  # relative parts: no shift
    torch.testing.assert_close(moved["left_hand"][0, ..., :2], hand @ rot[0, :, :2].T)


@pytest.mark.parametrize("padding", ["repeat", "zero"])
def test_what_padded_frames_hold_changes_nothing(padding):
    torch.manual_seed(0)
    enc = PartwiseSTGCN(**SMALL, padding=padding).eval()
    kp, conf, valid, mask = clips()
    mask[1, 7:] = False
    other = kp.clone()
    other[1, 7:] = torch.rand(5, kp.shape[2], 2) * 1e4
    with torch.no_grad():
        torch.testing.assert_close(enc(kp, conf, valid, mask), enc(other, conf, valid, mask))
