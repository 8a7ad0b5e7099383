# Minutes on 2 CPU cores: the shared smoke encoder, a tiny T5 with a tokenizer trained on
# the pre-training text, one SGT layer, a short pre-training stage.
_base_ = ["./_base.py"]
model = dict(
    text=dict(_delete_=True, type="tiny_t5", vocab_size=1000, d_model=128, d_ff=256, heads=4,
              encoder_layers=2, decoder_layers=2, dropout=0.1),
    sigma=dict(embed_dim=128, clusters=6, fusion=dict(layers=1, heads=4, ff=256)),
)
pretrain = dict(epochs=2, batch_size=32, lr=2e-3, checkpoint_every=20, data=dict(max_frames=48))
