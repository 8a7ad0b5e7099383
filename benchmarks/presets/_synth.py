# Shared by the SynthSign presets. `data.synth` is the generator config
# (benchmarks/synth/generator.py: SynthConfig documents every knob).
bench = dict()
data = dict(
    max_frames=64, verify=True, train_fraction=1.0, subset_seed=0, sampling="uniform",
    augment=dict(speed=0.2, scale=0.1, rotate_deg=8.0, shift=0.05),
    synth=dict(
        seed=0, vocab_size=60, n_train_signers=8, n_dev_signers=3, n_test_signers=3,
        n_pretrain_signers=6, islr_reps_per_signer=2, cslr_sentences=[600, 100, 100],
        pretrain_sentences=2000, fps=25.0, frames_per_sign=[14, 22], difficulty=2.0,
        frame_size=[512, 512], sentence_glosses=[3, 8], rest_frames=[2, 6],
        min_sign_distance=2, jitter_px=1.5, drop_rate=0.01, hand_dropout_rate=0.1,
        signer_variation=1.0, instance_variation=1.0, left_handed_rate=0.2,
    ),
)
eval = dict()
