"""SynthSign generator: determinism, pose sanity, kinematics, signers, grammar, sentences."""

import dataclasses
import itertools

import numpy as np
import pytest

from benchmarks.synth.generator import (
    GENERATOR_VERSION,
    SynthConfig,
    generate,
    lexicon,
    sentence_grammar,
    sign_table,
    signer_ids,
    signer_table,
)
from benchmarks.synth.grammar import CLOSED, VERBS, Grammar, Meaning
from benchmarks.synth.lexicon import difference
from benchmarks.synth.skeleton import hand_local
from harness.core.layouts import COCO_WHOLEBODY_133, HAND_EDGES, LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET

SMALL = SynthConfig(vocab_size=24, n_train_signers=2, n_dev_signers=1, n_test_signers=1,
                    n_pretrain_signers=2, islr_reps_per_signer=2, cslr_sentences=(12, 4, 4),
                    pretrain_sentences=10)
CLEAN = SynthConfig(vocab_size=30, n_train_signers=1, n_dev_signers=1, n_test_signers=1,
                    n_pretrain_signers=0, islr_reps_per_signer=1, cslr_sentences=(40, 1, 1),
                    difficulty=0.0)
LEGS = list(range(13, 23))


def _arrays(clips):
    return [(c.id, c.gloss, c.text, c.pose.keypoints.tobytes(), c.pose.confidence.tobytes(),
             c.pose.valid.tobytes()) for c in clips]


@pytest.fixture(scope="module")
def islr_small():
    return list(generate("islr", SMALL))


@pytest.fixture(scope="module")
def clean_sentences():
    return list(generate("cslr", CLEAN, splits=["train"]))


def test_determinism_and_seed(islr_small):
    again = list(generate("islr", SMALL))
    assert _arrays(again) == _arrays(islr_small)
    other = list(generate("islr", dataclasses.replace(SMALL, seed=1)))
    assert len(other) == len(islr_small)
    assert not np.array_equal(other[0].pose.keypoints, islr_small[0].pose.keypoints)


def test_clips_do_not_depend_on_generation_order(islr_small):
    dev = list(generate("islr", SMALL, splits=["dev"]))
    assert _arrays(dev) == _arrays([c for c in islr_small if c.split == "dev"])
    slt = list(generate("slt", SMALL, splits=["test"]))
    cslr = [c for c in generate("cslr", SMALL) if c.split == "test"]
    assert [c.pose.keypoints.tobytes() for c in slt] == [c.pose.keypoints.tobytes()
                                                         for c in cslr]
    assert [c.text for c in slt] == [c.text for c in cslr]


def test_counts_ids_and_labels(islr_small):
    vocab = lexicon(SMALL)
    assert len(vocab) == 24 and vocab == sorted(vocab) and set(CLOSED) <= set(vocab)
    n_train = 2 * 2 * len(vocab)
    assert len(islr_small) == n_train + 2 * len(vocab)
    assert len({c.id for c in islr_small}) == len(islr_small)
    assert islr_small[0].id == f"islr-train-s00-{vocab[0]}-r0"
    assert {c.gloss for c in islr_small} == set(vocab)
    assert all(c.text and c.text == c.text.lower() for c in islr_small)
    assert len(list(generate("pretrain", SMALL))) == 10
    assert [c.split for c in generate("cslr", SMALL)].count("dev") == 4


def test_pose_arrays_are_sound(islr_small):
    for clip in islr_small[::7]:
        pose = clip.pose
        pose.check(clip.id)
        t = pose.n_frames
        assert pose.keypoints.shape == (t, 133, 2) and pose.keypoints.dtype == np.float32
        assert pose.confidence.dtype == np.float32 and pose.valid.dtype == bool
        assert np.isfinite(pose.keypoints).all() and np.isfinite(pose.confidence).all()
        assert (pose.confidence[~pose.valid] < 0.3).all()
        assert (pose.confidence[pose.valid] >= 0.3).all()
        assert not pose.valid[:, LEGS].any()
        assert pose.valid[:, [0, 5, 6, 11, 12]].mean() > 0.9          # head, shoulders, hips
        assert pose.frame_size == (512, 512) and pose.fps == 25.0
        assert pose.layout == COCO_WHOLEBODY_133.name and pose.coord_space == "pixel"
        assert pose.provenance["generator"] == "synthsign"
        assert pose.provenance["version"] == GENERATOR_VERSION
        assert pose.provenance["seed"] == SMALL.seed
        kp = pose.keypoints[pose.valid]
        assert (kp >= 0).all() and (kp < 512).all()


def test_detector_effects():
    cfg = dataclasses.replace(SMALL, hand_dropout_rate=2.0, drop_rate=0.03)
    clips = list(generate("islr", cfg, splits=["dev"]))
    conf = np.concatenate([c.pose.confidence for c in clips])
    valid = np.concatenate([c.pose.valid for c in clips])
    kp = np.concatenate([c.pose.keypoints for c in clips])
    hands = np.r_[LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + 21, RIGHT_HAND_OFFSET:RIGHT_HAND_OFFSET + 21]
    assert conf[:, hands][valid[:, hands]].mean() < conf[:, [5, 6]].mean()
    assert 0.0 < 1 - valid[:, hands].mean() < 0.5
    whole = ~valid[:, RIGHT_HAND_OFFSET:RIGHT_HAND_OFFSET + 21].any(1)
    assert whole.any()
    assert (kp[whole, RIGHT_HAND_OFFSET:RIGHT_HAND_OFFSET + 21] == 0).all()


def test_clean_bone_lengths_are_constant():
    signers = signer_table(CLEAN)
    full = hand_local(np.zeros(21))
    seg3d = np.stack(full, -1)
    true = {e: np.linalg.norm(seg3d[e[1]] - seg3d[e[0]]) for e in HAND_EDGES[:20]}
    for clip in list(generate("islr", CLEAN, splits=["train"]))[:12]:
        kp = clip.pose.keypoints.astype(np.float64)
        assert clip.pose.valid[:, :13].all() and clip.pose.valid[:, 23:].all()
        for shoulder, elbow, wrist in ((5, 7, 9), (6, 8, 10)):
            for a, b in ((shoulder, elbow), (elbow, wrist)):
                length = np.linalg.norm(kp[:, a] - kp[:, b], axis=-1)
                assert length.std() / length.mean() < 1e-4
        signer = signers[clip.signer]
        hand_px = signer.hand_size * signer.scale
        for base in (LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET):
            palm = np.linalg.norm(kp[:, base + 9] - kp[:, base], axis=-1)   # wrist - middle MCP
            assert palm.std() / palm.mean() < 1e-4
            assert palm.mean() == pytest.approx(true[(0, 9)] * hand_px, rel=1e-3)
            for (i, j), length in true.items():   # projections never exceed the 3D bone
                seg = np.linalg.norm(kp[:, base + j] - kp[:, base + i], axis=-1)
                assert (seg <= length * hand_px * (1 + 1e-3) + 1e-3).all()


def _dominant_wrist(clip, n=24):
    dom = 9 if clip.pose.provenance["left_dominant"] else 10
    start, end = clip.pose.provenance["gloss_spans"][0]
    track = clip.pose.keypoints[start:end, dom].astype(np.float64)
    grid = np.linspace(0, len(track) - 1, n)
    return np.stack([np.interp(grid, np.arange(len(track)), track[:, k]) for k in (0, 1)], -1)


def test_trajectories_differ_more_between_glosses_than_between_repetitions(islr_small):
    clips = [c for c in islr_small if c.signer == "s00"]
    wrist = {(c.gloss, c.id[-1]): _dominant_wrist(c) for c in clips}
    glosses = sorted({g for g, _ in wrist})
    same = [np.abs(wrist[g, "0"] - wrist[g, "1"]).mean() for g in glosses]
    diff = [np.abs(wrist[a, "0"] - wrist[b, "0"]).mean()
            for a, b in itertools.combinations(glosses, 2)]
    assert np.mean(diff) > 2 * np.mean(same)


def test_signers_are_disjoint_across_splits(islr_small):
    ids = signer_ids(SMALL)
    train, dev, test = set(ids["train"]), set(ids["dev"]), set(ids["test"])
    assert not (train & dev or train & test or dev & test)
    assert len(train) == 2 and len(dev) == 1 and len(test) == 1
    assert train < set(ids["pretrain"]) and not set(ids["pretrain"]) & (dev | test)
    assert len(set(ids["pretrain"]) - train) == 2
    for clip in islr_small:
        assert clip.signer in ids[clip.split]
    pre = list(generate("pretrain", SMALL))
    assert {c.split for c in pre} == {"train"}
    assert {c.signer for c in pre} <= set(ids["pretrain"])
    assert {c.signer for c in pre} - train


def test_lexicon_signs_differ_in_two_parameters():
    cfg = SynthConfig()
    signs = sign_table(cfg)
    assert sorted(signs) == lexicon(cfg) and len(signs) == 60
    assert min(difference(a, b) for a, b in itertools.combinations(signs.values(), 2)) >= 2
    assert len({s.handshape for s in signs.values()}) >= 10
    assert {s.hands for s in signs.values()} == {"one", "sym", "alt", "base"}


GRAMMAR = Grammar([*CLOSED, "STORE", "APPLE", "BOOK", "TEACHER", "GO", "EAT", "BUY", "WANT",
                   "RED", "NEW", "TIRED"])


@pytest.mark.parametrize("meaning, gloss, text", [
    (Meaning("action", "IX-1", "GO", "STORE", time="YESTERDAY"),
     "YESTERDAY IX-1 STORE GO", "i went to the store yesterday ."),
    (Meaning("action", "IX-3", "EAT", "APPLE", negated=True),
     "IX-3 APPLE EAT NOT", "he does not eat the apple ."),
    (Meaning("action", "IX-1", "WANT", "APPLE"), "IX-1 APPLE WANT", "i want an apple ."),
    (Meaning("action", "IX-2", "BUY", "BOOK", adj="RED", number="TWO", time="TOMORROW"),
     "TOMORROW IX-2 BOOK RED TWO BUY", "you will buy two red books tomorrow ."),
    (Meaning("action", "IX-1", "BUY", "BOOK", adj="NEW", time="LAST-WEEK", negated=True,
             topic=True),
     "LAST-WEEK BOOK NEW IX-1 BUY NOT", "i did not buy a new book last week ."),
    (Meaning("action", "TEACHER", "BUY", "APPLE", point=True),
     "TEACHER IX-3 APPLE BUY", "the teacher buys an apple ."),
    (Meaning("state", "TEACHER", adj="TIRED", time="YESTERDAY", negated=True, point=True),
     "YESTERDAY TEACHER IX-3 TIRED NOT", "the teacher was not tired yesterday ."),
    (Meaning("where", obj="BOOK", adj="NEW"), "BOOK NEW WHERE", "where is the new book ?"),
    (Meaning("where", "IX-2", "GO", time="TOMORROW"), "TOMORROW IX-2 GO WHERE",
     "where will you go tomorrow ?"),
    (Meaning("what", "IX-3", "EAT", time="YESTERDAY"), "YESTERDAY IX-3 EAT WHAT",
     "what did he eat yesterday ?"),
    (Meaning("who", verb="EAT", obj="APPLE", number="THREE"), "APPLE THREE EAT WHO",
     "who eats three apples ?"),
])
def test_grammar_realises_meanings(meaning, gloss, text):
    assert " ".join(GRAMMAR.gloss(meaning)) == gloss
    assert GRAMMAR.text(meaning) == text
    assert set(text.split()) <= GRAMMAR.vocabulary()


def test_non_manual_brows():
    topic = Meaning("action", "IX-1", "BUY", "BOOK", adj="NEW", time="LAST-WEEK", topic=True)
    assert GRAMMAR.brows(topic) == [0.0, 1.0, 1.0, 0.0, 0.0]
    assert GRAMMAR.brows(Meaning("what", "IX-2", "EAT")) == [-1.0, -1.0, -1.0]


def test_sampled_sentences_follow_the_grammar():
    cfg = SynthConfig()
    grammar = sentence_grammar(cfg)
    vocab, glosses = grammar.vocabulary(), set(lexicon(cfg))
    assert 100 <= len(vocab) <= 500
    rng = np.random.default_rng(0)
    for _ in range(300):
        meaning = grammar.sample(rng)
        gloss, text = grammar.gloss(meaning), grammar.text(meaning)
        words = text.split()
        assert 3 <= len(gloss) <= 8 and set(gloss) <= glosses
        assert text != " ".join(gloss) and set(words) <= vocab
        assert not {"the", "a", "an", "to", "is"} & set(gloss)
        assert words[-1] == ("?" if gloss[-1] in ("WHERE", "WHAT", "WHO") else ".")
        if "NOT" in gloss:
            assert "not" in words
        if {"TOMORROW", "NEXT-WEEK"} & set(gloss):
            assert "will" in words
        if meaning.kind == "action" and {"YESTERDAY", "LAST-WEEK"} & set(gloss):
            assert ("did" if meaning.negated else VERBS[meaning.verb].past) in words


def test_sentence_clips(clean_sentences):
    clips = clean_sentences
    assert all(len(c.gloss.split()) == len(c.pose.provenance["gloss_spans"]) for c in clips)
    n_gloss = np.array([len(c.gloss.split()) for c in clips])
    frames = np.array([c.pose.n_frames for c in clips])
    assert np.corrcoef(n_gloss, frames)[0, 1] > 0.6
    assert frames[n_gloss >= 6].mean() > frames[n_gloss <= 4].mean()
    for clip in clips:
        spans = np.array(clip.pose.provenance["gloss_spans"])
        assert spans[0, 0] > 0 and spans[-1, 1] < clip.pose.n_frames    # rest before and after
        assert (spans[1:, 0] > spans[:-1, 1]).all()                      # transitions between
        assert clip.text and clip.text != clip.gloss.lower()


def test_clean_transitions_are_continuous(clean_sentences):
    signers = signer_table(CLEAN)
    for clip in clean_sentences:
        signer = signers[clip.signer]
        kp = clip.pose.keypoints
        step = np.linalg.norm(np.diff(kp[:, [9, 10]], axis=0), axis=-1).max()
        assert step < 0.35 * signer.shoulder_width * signer.scale


def test_config_from_json_lists():
    cfg = SynthConfig(frames_per_sign=[10, 12], cslr_sentences=[1, 1, 1], frame_size=[256, 256])
    assert cfg.frames_per_sign == (10, 12) and hash(cfg)
    with pytest.raises(ValueError):
        SynthConfig(n_dev_signers=0)
    with pytest.raises(ValueError):
        list(generate("video", cfg))
