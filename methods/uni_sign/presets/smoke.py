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
pretrain = dict(epochs=2, batch_size=32, lr=5e-4, checkpoint_every=20, data=dict(max_frames=48))
finetune = dict(epochs=6, batch_size=32, lr=5e-4, checkpoint_every=50)
