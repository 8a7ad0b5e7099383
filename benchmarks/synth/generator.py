"""SynthSign: deterministic synthetic signing for ISLR, CSLR, SLT and pose+text pre-training.

The world of one ``SynthConfig`` is drawn from its seed: a lexicon of glosses with
phonological parameters (``lexicon``), a grammar over those glosses (``grammar``) and a
population of signers with their own proportions, camera placement, tempo and handedness
(``skeleton``). Signers are numbered s00, s01, ... in the order train, dev, test,
pre-training-only, so splits never share a signer and the pre-training corpus (train
signers plus its own signers) never sees a dev or test signer.

Each clip is rendered from its own generator seeded by (seed, kind, split, index), so clips
do not depend on the generation order: rest pose, then the sign(s) joined by transitions
(``motion``), then rest pose; rendered into the 133 COCO-WholeBody points and passed through
estimator effects (``detector``). ``difficulty`` scales jitter, dropout, signer variation
and instance variation together; at 0 the signers are identical and the points are exact.

Frame counts (``frames_per_sign``, ``rest_frames``) are in frames; ``fps`` only sets the
clip metadata and the per-second hand-dropout rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

from benchmarks.synth.detector import DetectorNoise, detect
from benchmarks.synth.grammar import MIN_VOCAB, NEG, Grammar, choose_glosses, english_word
from benchmarks.synth.lexicon import Sign, draw_signs
from benchmarks.synth.motion import Track, join, rest_track, sign_track
from benchmarks.synth.skeleton import Signer, render, sample_signer
from harness.core.pose import PoseSequence

GENERATOR_VERSION = "1"
KINDS = ("islr", "cslr", "slt", "pretrain")
SPLITS = ("train", "dev", "test")
# Stream codes of the seed sequences.
_LEXICON, _SIGNER, _ISLR, _SENTENCE, _PRETRAIN = range(1, 6)
_CHANNELS = tuple(f.name for f in fields(Track))


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a SynthSign world and its clips."""

    seed: int = 0
    vocab_size: int = 60            # glosses in the lexicon (the grammar uses all of them)
    n_train_signers: int = 10
    n_dev_signers: int = 3
    n_test_signers: int = 3
    n_pretrain_signers: int = 6     # extra signers seen only in the pre-training corpus
    islr_reps_per_signer: int = 2   # train repetitions per gloss and signer; dev/test: 1
    cslr_sentences: tuple[int, int, int] = (600, 100, 100)   # train/dev/test (also SLT)
    pretrain_sentences: int = 2000
    fps: float = 25.0
    frames_per_sign: tuple[int, int] = (14, 22)   # range, before signer and instance tempo
    difficulty: float = 1.0         # scales jitter, dropout, signer and instance variation
    frame_size: tuple[int, int] = (512, 512)      # (width, height) in pixels
    sentence_glosses: tuple[int, int] = (3, 8)    # gloss count range of a sentence
    rest_frames: tuple[int, int] = (2, 6)         # idle frames before and after signing
    min_sign_distance: int = 2      # parameter slots in which any two signs differ
    jitter_px: float = 1.5          # body jitter std in pixels (face x0.6, hands x1.6)
    drop_rate: float = 0.01         # per-point drop rate (body x0.3, face x0.5, hands x3)
    hand_dropout_rate: float = 0.1  # whole-hand dropout events per hand per second
    signer_variation: float = 1.0   # spread of body proportions, placement, tempo
    instance_variation: float = 1.0  # spread of the parameters between repetitions
    left_handed_rate: float = 0.2   # share of left-dominant signers in every split

    def __post_init__(self) -> None:
        for f in fields(self):  # configs read from JSON carry lists
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        if self.seed < 0:
            raise ValueError("seed must be non-negative")
        if self.vocab_size < MIN_VOCAB:
            raise ValueError(f"vocab_size must be at least {MIN_VOCAB}, got {self.vocab_size}")
        if min(self.n_train_signers, self.n_dev_signers, self.n_test_signers) < 1:
            raise ValueError("every split needs at least one signer")
        if len(self.cslr_sentences) != 3:
            raise ValueError("cslr_sentences holds three counts: train, dev, test")
        for name in ("frames_per_sign", "sentence_glosses", "rest_frames"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be a range (lo, hi) with 1 <= lo <= hi")
        if self.frames_per_sign[0] < 6:
            raise ValueError("frames_per_sign must start at 6 frames or more")
        if self.difficulty < 0:
            raise ValueError("difficulty must be non-negative")


@dataclass
class SynthClip:
    """One generated clip with its labels."""

    id: str
    split: str
    signer: str
    gloss: str
    text: str
    pose: PoseSequence


@dataclass(frozen=True)
class _World:
    glosses: tuple[str, ...]
    signs: dict[str, Sign]
    grammar: Grammar
    signers: dict[str, Signer]
    split_signers: dict[str, tuple[str, ...]]


def _rng(cfg: SynthConfig, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, *key]))


@lru_cache(maxsize=8)
def _world(cfg: SynthConfig) -> _World:
    drawn = choose_glosses(_rng(cfg, _LEXICON, 0), cfg.vocab_size)
    signs = draw_signs(drawn, _rng(cfg, _LEXICON, 1), cfg.min_sign_distance)
    counts = {"train": cfg.n_train_signers, "dev": cfg.n_dev_signers,
              "test": cfg.n_test_signers, "extra": cfg.n_pretrain_signers}
    width = max(2, len(str(sum(counts.values()) - 1)))
    d = cfg.difficulty
    left_rate = cfg.left_handed_rate * min(1.0, d)
    signers: dict[str, Signer] = {}
    split_signers = {}
    for code, (split, count) in enumerate(counts.items()):
        # each split gets its share of left-dominant signers, at random positions
        lefties = set(_rng(cfg, _SIGNER, 0, code).permutation(count)[:round(count * left_rate)])
        split_signers[split] = []
        for k in range(count):
            i = len(signers)
            sid = f"s{i:0{width}d}"
            signers[sid] = sample_signer(sid, _rng(cfg, _SIGNER, 1, i),
                                         cfg.signer_variation * d, k in lefties, cfg.frame_size)
            split_signers[split].append(sid)
    split_signers["pretrain"] = split_signers["train"] + split_signers.pop("extra")
    return _World(tuple(sorted(drawn)), signs, Grammar(drawn, cfg.sentence_glosses), signers,
                  {split: tuple(ids) for split, ids in split_signers.items()})


def lexicon(cfg: SynthConfig) -> list[str]:
    """The gloss vocabulary, sorted."""
    return list(_world(cfg).glosses)


def sign_table(cfg: SynthConfig) -> dict[str, Sign]:
    """The phonological parameters of every gloss of the lexicon."""
    return dict(_world(cfg).signs)


def sentence_grammar(cfg: SynthConfig) -> Grammar:
    """The grammar that produces the sentences of the CSLR/SLT/pre-training sets."""
    return _world(cfg).grammar


def signer_table(cfg: SynthConfig) -> dict[str, Signer]:
    """Every signer of the world (all splits and the pre-training-only ones) by id."""
    return dict(_world(cfg).signers)


def signer_ids(cfg: SynthConfig) -> dict[str, tuple[str, ...]]:
    """Signer ids per set: 'train', 'dev', 'test' and 'pretrain' (train + extra signers)."""
    return dict(_world(cfg).split_signers)


@dataclass
class _Job:
    """One clip to render: labels, the signs to perform and the clip's own generator."""

    id: str
    split: str
    signer: str
    glosses: list[str]
    text: str
    rng: np.random.Generator
    sentence: bool
    brows: list[float]


def _timeline(cfg: SynthConfig, signer: Signer, job: _Job
              ) -> tuple[Track, list[tuple[int, int]], np.ndarray]:
    """Rest, the signs joined by transitions, rest; and a slow body sway."""
    world, rng = _world(cfg), job.rng
    iv = cfg.instance_variation * cfg.difficulty
    lo, hi = cfg.frames_per_sign
    rest_lo, rest_hi = cfg.rest_frames
    tracks = [rest_track(signer, int(rng.integers(rest_lo, rest_hi + 1)), rng, iv)]
    for gloss, brow in zip(job.glosses, job.brows, strict=True):
        sign = world.signs[gloss]
        n = rng.uniform(lo, hi) * signer.tempo * (1 + 0.08 * iv * rng.normal())
        n *= (1 + 0.25 * (sign.reps - 1)) * (0.85 if job.sentence else 1.0)
        tracks.append(sign_track(sign, signer, max(6, round(n)), rng, iv, brow=0.8 * brow,
                                 shake=gloss == NEG, reduce=0.9 if job.sentence else 1.0))
    tracks.append(rest_track(signer, int(rng.integers(rest_lo, rest_hi + 1)), rng, iv))
    track, spans = join(tracks, signer, rng)
    amp = 0.015 * signer.shoulder_width * iv * rng.uniform(0.5, 1.0, 2)
    phase = rng.uniform(0, 2 * math.pi, 2)
    sway = amp * np.sin(2 * math.pi * np.arange(track.frames)[:, None] / rng.uniform(40, 80)
                        + phase)
    return track, spans[1:-1], sway


def _render(cfg: SynthConfig, jobs: list[_Job]) -> Iterator[SynthClip]:
    """Render jobs (batched per signer: one render and one detector pass) in job order."""
    world = _world(cfg)
    d = cfg.difficulty
    done: dict[int, SynthClip] = {}
    by_signer: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        by_signer.setdefault(job.signer, []).append(i)
    for sid, indices in by_signer.items():
        signer = world.signers[sid]
        timelines = [_timeline(cfg, signer, jobs[i]) for i in indices]
        order = [1, 0] if signer.left_dominant else [0, 1]   # [dominant, non-dominant] -> [R, L]
        cat = {k: np.concatenate([getattr(tl[0], k) for tl in timelines]) for k in _CHANNELS}
        sway = np.concatenate([tl[2] for tl in timelines])
        clean = render(signer, cat["centre"][:, order], cat["theta"][:, order],
                       cat["roll"][:, order], cat["shape"][:, order], cat["mouth"], cat["brow"],
                       cat["head"], sway)
        lengths = [tl[0].frames for tl in timelines]
        noise = DetectorNoise(cfg.jitter_px * d * signer.scale, cfg.drop_rate * d,
                              cfg.hand_dropout_rate * d, cfg.fps)
        kp, conf, valid = detect(clean, lengths, [jobs[i].rng for i in indices],
                                 signer.hand_size * signer.scale, cfg.frame_size, noise)
        start = 0
        for i, n, (_, spans, _) in zip(indices, lengths, timelines, strict=True):
            job, part = jobs[i], slice(start, start + n)
            pose = PoseSequence(kp[part].copy(), conf[part].copy(), valid[part].copy(), cfg.fps,
                                tuple(cfg.frame_size), "pixel", "coco_wholebody_133",
                                {"generator": "synthsign", "version": GENERATOR_VERSION,
                                 "seed": cfg.seed, "signer": sid,
                                 "left_dominant": signer.left_dominant,
                                 "gloss_spans": [list(s) for s in spans]})
            done[i] = SynthClip(job.id, job.split, sid, " ".join(job.glosses), job.text, pose)
            start += n
    for i in range(len(jobs)):
        yield done[i]


def _batched(jobs: Iterable[_Job], cfg: SynthConfig, size: int = 64) -> Iterator[SynthClip]:
    chunk: list[_Job] = []
    for job in jobs:
        chunk.append(job)
        if len(chunk) == size:
            yield from _render(cfg, chunk)
            chunk = []
    yield from _render(cfg, chunk)


def _islr(cfg: SynthConfig, splits: tuple[str, ...]) -> Iterator[_Job]:
    world = _world(cfg)
    for split in splits:
        code = SPLITS.index(split)
        reps = cfg.islr_reps_per_signer if split == "train" else 1
        for sid in world.split_signers[split]:
            for g, gloss in enumerate(world.glosses):
                for rep in range(reps):
                    rng = _rng(cfg, _ISLR, code, int(sid[1:]), g, rep)
                    yield _Job(f"islr-{split}-{sid}-{gloss}-r{rep}", split, sid, [gloss],
                               english_word(gloss), rng, sentence=False, brows=[0.0])


def _sentence(cfg: SynthConfig, kind: str, split: str, index: int, sid: str,
              rng: np.random.Generator) -> _Job:
    grammar = _world(cfg).grammar
    meaning = grammar.sample(rng)
    glosses = grammar.gloss(meaning)
    name = f"{kind}-{sid}" if kind == "pretrain" else f"{kind}-{split}-{sid}"
    name = f"{name}-{index:05d}"
    return _Job(name, split, sid, glosses, grammar.text(meaning), rng, sentence=True,
                brows=grammar.brows(meaning))


def _sentences(cfg: SynthConfig, kind: str, splits: tuple[str, ...]) -> Iterator[_Job]:
    world = _world(cfg)
    if kind == "pretrain":
        if "train" in splits:
            pool = world.split_signers["pretrain"]
            for i in range(cfg.pretrain_sentences):
                yield _sentence(cfg, kind, "train", i, pool[i % len(pool)],
                                _rng(cfg, _PRETRAIN, 0, i))
        return
    for split in splits:
        code = SPLITS.index(split)
        pool = world.split_signers[split]
        for i in range(cfg.cslr_sentences[code]):
            yield _sentence(cfg, kind, split, i, pool[i % len(pool)],
                            _rng(cfg, _SENTENCE, code, i))


def generate(kind: str, cfg: SynthConfig, *, splits: Iterable[str] | None = None
             ) -> Iterator[SynthClip]:
    """Yield the clips of one set in a stable order; same cfg -> identical clips.

    kind: 'islr' (one gloss per clip), 'cslr' / 'slt' (the same signed sentences with
    glosses and text), 'pretrain' (pose+text sentences, split 'train'). ``splits`` limits
    the output to some of 'train', 'dev', 'test' (default: all).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown SynthSign kind {kind!r}; known: {KINDS}")
    wanted = tuple(s for s in SPLITS if splits is None or s in set(splits))
    jobs = _islr(cfg, wanted) if kind == "islr" else _sentences(cfg, kind, wanted)
    yield from _batched(jobs, cfg)
