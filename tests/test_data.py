"""The data path: deterministic batches, resumable mid-epoch, label-preserving sampling."""

import numpy as np
import pytest
import torch

from harness.data.loader import ClipLoader, DataOptions, eval_frame_indices, train_frame_indices
from harness.data.store import PoseStore, StoreWriter
from tests.test_store import make_pose


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "s"
    with StoreWriter(path) as w:
        for i in range(23):
            w.add(f"c{i:02d}", make_pose(5 + i % 7, i), split="train" if i < 17 else "dev",
                  gloss=f"G{i % 4}", source="t")
        w.close()
    return PoseStore(path)


OPTS = DataOptions(max_frames=8, speed_jitter=0.2, scale_jitter=0.1, rotate_deg=10, shift=0.05)


def batches_as_arrays(loader, epoch, start=0):
    return [(b.ids, b.keypoints.numpy().copy()) for b in loader.batches(epoch, start=start)]


def test_training_batches_repeat_for_a_seed_and_resume_mid_epoch(store):
    loader = ClipLoader(store, store.split("train"), 4, OPTS, train=True, seed=3, stage="ft")
    full = batches_as_arrays(loader, epoch=2)
    again = batches_as_arrays(loader, epoch=2)
    tail = batches_as_arrays(loader, epoch=2, start=2)
    assert len(full) == len(loader) == 4  # 17 clips, batch 4, last partial batch dropped
    for (ia, a), (ib, b) in zip(full, again, strict=True):
        assert ia == ib and np.array_equal(a, b)
    for (ia, a), (ib, b) in zip(full[2:], tail, strict=True):
        assert ia == ib and np.array_equal(a, b)
    other_epoch = batches_as_arrays(loader, epoch=3)
    assert [i for i, _ in other_epoch] != [i for i, _ in full]


def test_evaluation_batches_cover_the_split_once_without_augmentation(store):
    loader = ClipLoader(store, store.split("dev"), 4, OPTS, train=False)
    ids = [i for b in loader.batches() for i in b.ids]
    assert sorted(ids) == [f"c{i:02d}" for i in range(17, 23)]
    batch = next(iter(loader.batches()))
    clip = store.clips[[c.id for c in store.clips].index(batch.ids[0])]
    kp, _, valid = store.arrays(clip.index)
    idx = eval_frame_indices(len(kp), 8)
    got = batch.keypoints[0, : len(idx)].numpy()
    assert np.array_equal(got[valid[idx]], kp[idx][valid[idx]])
    assert batch.frame_mask[0].sum() == len(idx)


def test_padding_is_masked(store):
    loader = ClipLoader(store, store.split("train"), 8, OPTS, train=True)
    batch = next(iter(loader.batches(0)))
    lengths = batch.frame_mask.sum(1)
    for j, n in enumerate(lengths.tolist()):
        assert not batch.valid[j, n:].any()
        assert torch.all(batch.keypoints[j, n:] == 0)


def test_frame_sampling_keeps_the_whole_clip():
    rng = np.random.default_rng(0)
    for n in (5, 40, 200):
        idx = train_frame_indices(n, 32, 0.2, rng)
        assert len(idx) <= 32 and idx.min() >= 0 and idx.max() < n
        assert np.all(np.diff(idx) >= 0)
        if n > 40:  # subsampled, never cropped: start and end of the clip are both in
            assert idx[0] < n / 16 and idx[-1] > n - n / 16
    assert eval_frame_indices(10, 32).tolist() == list(range(10))
    assert eval_frame_indices(100, 5).tolist() == [0, 25, 50, 74, 99]


def _reference_batch(store, chunk, opts, seed, stage_key, epoch, number):
    """The straightforward per-clip assembly (joints of all frames, then the frames, padded
    with zeros; one transform per clip) that the loader must equal exactly."""
    rng = np.random.default_rng([seed, stage_key, epoch, number, 7])
    kps, transforms = [], []
    for i in chunk:
        kp, _, _ = store.arrays(int(i))
        idx = train_frame_indices(len(kp), opts.max_frames, opts.speed_jitter, rng,
                                  opts.sampling)
        kps.append(np.asarray(kp)[:, list(opts.joints)][idx])
        scale = 1.0 + rng.uniform(-opts.scale_jitter, opts.scale_jitter)
        theta = np.deg2rad(rng.uniform(-opts.rotate_deg, opts.rotate_deg))
        shift = rng.uniform(-opts.shift, opts.shift, size=2)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        transforms.append(np.concatenate([scale * rot, shift[:, None]], 1).astype(np.float32))
    keypoints = np.zeros((len(kps), max(len(k) for k in kps), *kps[0].shape[1:]), np.float32)
    for j, kp in enumerate(kps):
        keypoints[j, :len(kp)] = kp
    return keypoints, np.stack(transforms)


@pytest.mark.parametrize("sampling", ["uniform", "random"])
def test_training_batches_equal_the_straightforward_assembly(store, sampling):
    opts = DataOptions(max_frames=8, speed_jitter=0.2, scale_jitter=0.1, rotate_deg=10,
                       shift=0.05, joints=(0, 2, 5, 7, 11), sampling=sampling)
    loader = ClipLoader(store, store.split("train"), 4, opts, train=True, seed=5, stage="ft")
    order = loader._order(1)
    for number, batch in enumerate(loader.batches(1)):
        chunk = order[number * 4:(number + 1) * 4]
        ref, transforms = _reference_batch(store, chunk, opts, 5, loader.stage_key, 1, number)
        assert np.array_equal(batch.keypoints.numpy(), ref)  # bit for bit
        assert np.array_equal(batch.affine.numpy(), transforms)


def test_random_sampling_is_a_sorted_subset_of_distinct_frames():
    """Uni-Sign's release: a clip longer than max_frames gives a sorted random sample of
    max_frames distinct frames; a shorter one all of its frames."""
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        idx = train_frame_indices(100, 16, 0.0, rng, "random")
        assert len(idx) == 16 == len(set(idx.tolist())) and np.all(np.diff(idx) > 0)
        seen.add(tuple(idx.tolist()))
    assert len(seen) == 20
    assert train_frame_indices(10, 16, 0.0, rng, "random").tolist() == list(range(10))


def test_every_augmentation_changes_what_the_encoder_sees(store):
    """Each configured augmentation, alone, changes the encoder's normalised input (the
    spatial ones act after the encoder's per-clip normalisation, which would undo a scale
    or a shift of the raw points); none does anything at evaluation."""
    from methods.encoders.stgcn import PartwiseSTGCN

    enc = PartwiseSTGCN(embed=4, spatial=[4], temporal=[4], d_model=4)
    base = dict(max_frames=4, joints=enc.input_joints, speed_jitter=0.0, scale_jitter=0.0,
                rotate_deg=0.0, shift=0.0)

    def seen(train: bool, **change) -> torch.Tensor:
        opts = DataOptions(**{**base, **change})
        loader = ClipLoader(store, store.split("train"), 8, opts, train=train, seed=1)
        batch = next(iter(loader.batches(0)))
        parts = enc.normalized(batch.keypoints, batch.confidence, batch.valid,
                               batch.frame_mask, batch.affine)
        return torch.cat([p.flatten(1) for p in parts.values()], 1)

    plain = seen(True)
    for change in ({"speed_jitter": 0.3}, {"scale_jitter": 0.2}, {"rotate_deg": 15.0},
                   {"shift": 0.1}, {"sampling": "random"}):
        moved = seen(True, **change)
        assert moved.shape != plain.shape or not torch.allclose(moved, plain), change
        assert torch.equal(seen(False, **change), seen(False)), change


def _all_fields(batch):
    return (batch.ids, batch.gloss, batch.text,
            [t.numpy().copy() for t in (batch.keypoints, batch.confidence, batch.valid,
                                        batch.frame_mask)],
            None if batch.affine is None else batch.affine.numpy().copy())


@pytest.mark.parametrize("train", [True, False])
def test_worker_processes_build_the_threads_batches(store, train):
    """Batches built in worker processes (--loader-workers) are those of the background
    thread, bit for bit, in order, from any start and for any rank's share."""
    split = store.split("train" if train else "dev")
    kwargs = {"train": train, "seed": 5, "stage": "ft"}
    thread = ClipLoader(store, split, 3, OPTS, **kwargs)
    procs = ClipLoader(store, split, 3, OPTS, workers=2, **kwargs)
    for epoch, start, every in [(0, 0, (0, 1)), (4, 1, (0, 1)), (1, 0, (1, 2))]:
        want = [_all_fields(b) for b in thread.batches(epoch, start=start, every=every)]
        got = [_all_fields(b) for b in procs.batches(epoch, start=start, every=every)]
        assert len(got) == len(want) > 0
        for (ia, ga, ta, arrays_a, aff_a), (ib, gb, tb, arrays_b, aff_b) in zip(
                want, got, strict=True):
            assert (ia, ga, ta) == (ib, gb, tb)
            assert all(np.array_equal(a, b) for a, b in zip(arrays_a, arrays_b, strict=True))
            assert (aff_a is None) == (aff_b is None) == (not train)
            assert aff_a is None or np.array_equal(aff_a, aff_b)


def test_workers_are_other_processes(store, monkeypatch):
    """--loader-workers builds the batches in other processes, not in this one."""
    import os

    loader = ClipLoader(store, store.split("train"), 4, OPTS, train=True, workers=2)
    build = loader.make_batch

    def tagged(*args):
        batch = build(*args)
        batch.text = [str(os.getpid())] * len(batch)
        return batch

    monkeypatch.setattr(loader, "make_batch", tagged)
    pids = {int(b.text[0]) for b in loader.batches(0)}
    assert pids and os.getpid() not in pids


def test_a_worker_error_reaches_the_consumer(store, monkeypatch):
    """A batch that fails in a worker process fails the loop that reads it (with the
    worker's error), instead of hanging or being skipped."""
    loader = ClipLoader(store, store.split("train"), 4, OPTS, train=True, workers=2)

    def broken(*args):
        raise ValueError("clip 7 is broken")

    monkeypatch.setattr(loader, "make_batch", broken)
    with pytest.raises(ValueError, match="clip 7 is broken"):
        list(loader.batches(0))


def test_worker_processes_leave_the_global_generator_alone(store):
    """Dropout draws from torch's global generator: reading batches through worker
    processes must not draw from it, or training would differ from the thread's."""
    loader = ClipLoader(store, store.split("train"), 4, OPTS, train=True, workers=2)
    torch.manual_seed(11)
    list(loader.batches(0))
    after = torch.rand(3)
    torch.manual_seed(11)
    assert torch.equal(torch.rand(3), after)
