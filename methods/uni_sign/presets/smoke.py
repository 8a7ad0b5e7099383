# Minutes on 2 CPU cores: the shared smoke encoder (width 128, the tiny T5's), a tiny T5 with
# a tokenizer trained on the pre-training text, a short pre-training stage.
# The tokenizer also learns each word of its text in capitals and title case, as a general
# vocabulary such as mT5's covers a gloss (CSLR generates glosses, which SynthSign writes in
# capitals); with it a SynthSign gloss is 1.3 tokens and a word 1.0 (4.9 and 2.5 without).
_base_ = ["./_base.py"]
model = dict(
    text=dict(_delete_=True, type="tiny_t5", vocab_size=1000, d_model=128, d_ff=256, heads=4,
              encoder_layers=2, decoder_layers=2, dropout=0.1,
              word_cases=["lower", "upper", "title"]),
    uni_sign=dict(max_target_tokens=64),
)
# Learning rates: the sign encoder at the shared smoke preset's 2e-3, the LM at a quarter of it
# (5e-4; the whole model at 2e-3 scored 10.0% where this scores 21.1%), and six pre-training
# epochs, after which the LM's loss depends on the pose (grounding gap 0.22 against 0.016
# after two epochs at 5e-4); synth-islr, a quarter of the clips, seed 0: 33.3% test top-1
# against 16-21% (docs/measurements/2026-12-07-unisign-smoke-synth-islr.md).
pretrain = dict(epochs=6, batch_size=32, lr=2e-3, lr_scale=dict(text_model=0.25),
                checkpoint_every=20, data=dict(max_frames=48))
finetune = dict(epochs=6, batch_size=32, lr=2e-3, lr_scale=dict(text_model=0.25),
                checkpoint_every=50)
