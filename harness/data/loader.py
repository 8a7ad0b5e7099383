"""Batches from a prepared store: temporal sampling, augmentation, padding, prefetching.

Every random choice comes from a generator seeded by (seed, stage, epoch, batch index), so a
run resumed in the middle of an epoch sees exactly the batches an uninterrupted run sees.
Evaluation is deterministic: no augmentation and uniform temporal subsampling.

Spatial augmentation (scale, rotation, shift) is not applied to the stored coordinates: a
sign encoder normalises each clip by its own body box, which would undo a scale or a shift.
The loader draws one transform per clip and hands it over as ``Batch.affine``, which the
encoder applies to its normalised coordinates (where 1 is half the body box).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from harness.core.config import FRACTION, Rule, check, choice, count, number
from harness.core.tasks import Batch
from harness.data.store import PoseStore

#: How a training clip longer than ``max_frames`` is cut down (``DataOptions.sampling``).
SAMPLING = ("uniform", "random")


@dataclass(frozen=True)
class DataOptions:
    """Data-path settings, from the resolved config's ``data`` section."""

    max_frames: int = 64
    #: train: how a clip longer than ``max_frames`` is cut down: "uniform" (evenly spaced
    #: frames from a random phase) or "random" (a sorted random subset, Uni-Sign's release)
    sampling: str = "uniform"
    speed_jitter: float = 0.2      # train: resample length by a factor in [1 - j, 1 + j]
    scale_jitter: float = 0.1      # train: isotropic scale factor in [1 - j, 1 + j]
    rotate_deg: float = 10.0       # train: in-plane rotation in [-r, r] degrees
    shift: float = 0.05            # train: shift by up to this much in normalised units
    joints: tuple[int, ...] | None = None   # keep only these joints (None: all)
    #: What each value of a ``data`` section (and ``pretrain.data``) must be, and of its
    #: ``augment``; checked before a cell runs (``check``).
    RULES: ClassVar[dict[str, Rule]] = {
        "max_frames": count(1), "sampling": choice(*SAMPLING), "train_fraction": FRACTION}
    AUGMENT: ClassVar[dict[str, Rule]] = {
        "speed": number(0, 1, high_open=True), "scale": number(0, 1, high_open=True),
        "rotate_deg": number(0), "shift": number(0)}

    @classmethod
    def check(cls, prefix: str, data: Any) -> None:
        """One ConfigError for the first value of the ``data`` section at ``prefix`` that
        breaks its rule."""
        check(prefix, data, cls.RULES)
        if isinstance(data, dict):
            check(f"{prefix}.augment", data.get("augment"), cls.AUGMENT)

    @classmethod
    def from_config(cls, data: dict[str, Any], joints: Sequence[int] | None) -> DataOptions:
        """Build from the ``data`` config section and the joints the model reads."""
        aug = data.get("augment", {})
        return cls(max_frames=int(data["max_frames"]),
                   sampling=str(data.get("sampling", "uniform")),
                   speed_jitter=float(aug.get("speed", 0.0)),
                   scale_jitter=float(aug.get("scale", 0.0)),
                   rotate_deg=float(aug.get("rotate_deg", 0.0)),
                   shift=float(aug.get("shift", 0.0)),
                   joints=tuple(joints) if joints is not None else None)

    @property
    def spatial(self) -> bool:
        """Whether training batches carry a spatial transform."""
        return bool(self.scale_jitter or self.rotate_deg or self.shift)


def eval_frame_indices(n: int, max_frames: int) -> np.ndarray:
    """Deterministic frame choice for evaluation: all frames, or uniformly spaced ones."""
    if n <= max_frames:
        return np.arange(n)
    return np.round(np.linspace(0, n - 1, max_frames)).astype(np.int64)


def train_frame_indices(n: int, max_frames: int, jitter: float, rng: np.random.Generator,
                        sampling: str = "uniform") -> np.ndarray:
    """Random speed change (resampling by a factor in [1 - j, 1 + j]); a clip still longer
    than ``max_frames`` is cut down, never cropped, so every sign of a sentence stays in the
    clip: to evenly spaced frames from a random phase (``uniform``) or to a sorted random
    subset of its frames (``random``, as Uni-Sign's release samples)."""
    factor = 1.0 + rng.uniform(-jitter, jitter) if jitter > 0 else 1.0
    length = max(1, round(n * factor))
    if length > max_frames and sampling == "random":
        frames = np.clip(np.round(np.linspace(0, n - 1, length)), 0, n - 1).astype(np.int64)
        return frames[np.sort(rng.choice(length, size=max_frames, replace=False))]
    if length > max_frames:
        step = (n - 1) / max_frames if max_frames > 1 else 0.0
        start = rng.uniform(0, step) if step > 0 else 0.0
        return np.clip(np.round(start + step * np.arange(max_frames)), 0, n - 1).astype(np.int64)
    return np.clip(np.round(np.linspace(0, n - 1, length)), 0, n - 1).astype(np.int64)


def train_subset(store: PoseStore, indices: Sequence[int], data: dict[str, Any], *,
                 by_gloss: bool) -> list[int]:
    """The labelled training clips: a ``data.train_fraction`` of ``indices`` (default all).

    The subset depends only on ``data.subset_seed`` (not on the run's seed), so every method
    and seed of a comparison fine-tunes on the same clips; with ``by_gloss`` each gloss
    keeps the same fraction (at least one clip).
    """
    fraction = float(data.get("train_fraction", 1.0))
    if fraction >= 1.0:
        return list(indices)
    if fraction <= 0.0:
        raise ValueError("data.train_fraction must be in (0, 1]")
    rng = np.random.default_rng(int(data.get("subset_seed", 0)))
    groups: dict[str, list[int]] = {}
    for i in indices:
        groups.setdefault(store.clips[i].gloss if by_gloss else "", []).append(int(i))
    keep: list[int] = []
    for key in sorted(groups):
        members = groups[key]
        n = max(1, round(fraction * len(members)))
        keep.extend(members[j] for j in rng.permutation(len(members))[:n])
    return sorted(keep)


class ClipLoader:
    """Iterates over batches of clips of one split of a store.

    Batches are built ahead of the consumer: in a background thread (``workers=0``), or in
    ``workers`` forked processes through torch's ``DataLoader``, for when one thread cannot
    keep up with the training step (a GPU). Every batch depends only on its position, so the
    two give the same batches, bit for bit. ``pin_memory`` (for CUDA) puts each batch in
    page-locked memory before it is handed over, so that ``Batch.to`` copies it to the
    device asynchronously.
    """

    def __init__(self, store: PoseStore, indices: Sequence[int], batch_size: int,
                 options: DataOptions, *, train: bool, seed: int = 0, stage: str = "",
                 workers: int = 0, pin_memory: bool = False) -> None:
        self.workers, self.pin_memory = workers, pin_memory
        self.store = store
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = batch_size
        self.options = options
        self.train = train
        self.seed = seed
        self.stage_key = sum(ord(c) * 31 ** i for i, c in enumerate(stage)) % (2 ** 31)
        if not train:  # sort by length so that padding is small; the order is deterministic
            lengths = np.diff(store.offsets)[self.indices]
            self.indices = self.indices[np.argsort(lengths, kind="stable")]

    def __len__(self) -> int:
        if self.train:
            return len(self.indices) // self.batch_size or 1
        return -(-len(self.indices) // self.batch_size)

    def _order(self, epoch: int) -> np.ndarray:
        if not self.train:
            return self.indices
        rng = np.random.default_rng([self.seed, self.stage_key, epoch])
        return self.indices[rng.permutation(len(self.indices))]

    def batches(self, epoch: int = 0, start: int = 0, prefetch: int = 2,
                every: tuple[int, int] = (0, 1)) -> Iterator[Batch]:
        """Batches of ``epoch`` from batch number ``start`` on, built in a background thread;
        ``every=(r, k)`` keeps only the batches whose number is r modulo k (a rank's share
        of an evaluation: the same batches a single process makes, split between ranks)."""
        order = self._order(epoch)
        first, step = every
        numbers = [b for b in range(start, len(self)) if b % step == first]
        jobs = [(order[b * self.batch_size:(b + 1) * self.batch_size], b) for b in numbers]
        if self.workers > 0 and jobs:
            yield from _in_workers(self, epoch, jobs, max(prefetch, 1))
            return
        if prefetch <= 0:
            for chunk, b in jobs:
                yield self._ready(chunk, epoch, b)
            return
        yield from _prefetched((lambda b=b, chunk=chunk: self._ready(chunk, epoch, b))
                               for chunk, b in jobs)

    def _ready(self, chunk: np.ndarray, epoch: int, number: int) -> Batch:
        """``make_batch``, pinned where the loader pins."""
        batch = self.make_batch(chunk, epoch, number)
        return batch.pin_memory() if self.pin_memory else batch

    def make_batch(self, chunk: np.ndarray, epoch: int, number: int) -> Batch:
        """Load, sample, augment and pad the clips ``chunk`` into one batch.

        The random draws are made clip by clip in a fixed order (frame sampling, then scale,
        rotation and shift of the clip's ``affine``), so a batch depends only on (seed,
        stage, epoch, number); the array work is done for the whole batch at once: one
        gather of every chosen frame and joint from the store, and padding by a single
        scatter. The values equal those of assembling clip by clip, bit for bit.
        """
        opts = self.options
        rng = np.random.default_rng([self.seed, self.stage_key, epoch, number, 7])
        clips = [self.store.clips[int(i)] for i in chunk]
        offsets = self.store.offsets
        rows, lengths, transforms = [], [], []
        for i in chunk:
            a = int(offsets[int(i)])
            n = int(offsets[int(i) + 1]) - a
            idx = (train_frame_indices(n, opts.max_frames, opts.speed_jitter, rng,
                                       opts.sampling) if self.train
                   else eval_frame_indices(n, opts.max_frames))
            rows.append(idx + a)
            lengths.append(len(idx))
            if self.train and opts.spatial:
                transforms.append(self._augmentation(rng))
        frames = np.concatenate(rows)
        arrays = [a.take(frames, axis=0) for a in self.store.packed()]  # the frames, then
        if opts.joints is not None:                                       # the joints
            joints = np.asarray(opts.joints, dtype=np.int64)
            arrays = [a.take(joints, axis=1) for a in arrays]
        kp, conf, valid = arrays
        b, t_max, v = len(clips), max(lengths), kp.shape[1]
        # where each gathered frame goes in the padded (B * T) rows
        starts = np.repeat(np.cumsum([0, *lengths[:-1]]), lengths)
        slot = np.repeat(np.arange(b) * t_max, lengths) + np.arange(len(frames)) - starts
        keypoints = np.zeros((b * t_max, v, kp.shape[2]), np.float32)
        confidence = np.zeros((b * t_max, v), np.float32)
        valid_arr = np.zeros((b * t_max, v), bool)
        frame_mask = np.zeros(b * t_max, bool)
        keypoints[slot] = kp
        confidence[slot] = conf
        valid_arr[slot] = valid
        frame_mask[slot] = True
        keypoints = keypoints.reshape(b, t_max, v, kp.shape[2])
        confidence, valid_arr = confidence.reshape(b, t_max, v), valid_arr.reshape(b, t_max, v)
        frame_mask = frame_mask.reshape(b, t_max)
        return Batch(
            ids=[c.id for c in clips],
            keypoints=torch.from_numpy(keypoints),
            confidence=torch.from_numpy(confidence),
            valid=torch.from_numpy(valid_arr),
            frame_mask=torch.from_numpy(frame_mask),
            gloss=[c.gloss for c in clips],
            text=[c.text for c in clips],
            affine=torch.from_numpy(np.stack(transforms)) if transforms else None,
        )

    def _augmentation(self, rng: np.random.Generator) -> np.ndarray:
        """One clip's random transform (2, 3) of normalised coordinates: scale and rotation
        about the body box's centre, then a shift."""
        opts = self.options
        scale = 1.0 + rng.uniform(-opts.scale_jitter, opts.scale_jitter)
        theta = np.deg2rad(rng.uniform(-opts.rotate_deg, opts.rotate_deg))
        shift = rng.uniform(-opts.shift, opts.shift, size=2)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        return np.concatenate([scale * rot, shift[:, None]], axis=1).astype(np.float32)


def _in_workers(loader: ClipLoader, epoch: int, jobs: list[tuple[np.ndarray, int]],
                depth: int) -> Iterator[Batch]:
    """The batches ``jobs`` ((clip indices, batch number) each) of ``epoch``, built in
    ``loader.workers`` forked processes by torch's ``DataLoader``, in order, ``depth`` ahead
    per worker (and pinned by its thread where the loader pins)."""
    from torch.utils.data import DataLoader

    class Batches(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(jobs)

        def __getitem__(self, i: int) -> Batch:
            chunk, number = jobs[i]
            return loader.make_batch(chunk, epoch, number)

    # fork: the workers share the memory-mapped store and need nothing pickled to start.
    # The DataLoader draws its workers' seeds from a generator: its own, so that it does not
    # draw from the global one (dropout) and change the training (the batches use none).
    yield from DataLoader(Batches(), batch_size=None, shuffle=False,
                          num_workers=min(loader.workers, len(jobs)), prefetch_factor=depth,
                          pin_memory=loader.pin_memory, multiprocessing_context="fork",
                          generator=torch.Generator().manual_seed(0))


def _prefetched(jobs: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run zero-argument callables in a background thread, yielding results in order."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for job in jobs:
                if stop.is_set():
                    return
                q.put((True, job()))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put((False, exc))
            return
        q.put((True, done))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.01)
