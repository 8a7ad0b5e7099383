# Minutes on 2 CPU cores: narrow channels, one temporal block, a tiny text model.
_base_ = ["./_base.py"]
model = dict(
    encoder=dict(embed=16, spatial=[32, 64], temporal=[64], d_model=128, dropout=0.0),
    heads=dict(
        cslr=dict(hidden=128),
        slt=dict(text=dict(vocab_size=1000, d_model=128, d_ff=256, encoder_layers=2,
                           decoder_layers=2), select_max_new_tokens=40),
    ),
)
finetune = dict(epochs=6, batch_size=32, lr=2e-3, checkpoint_every=50)
# Sentences: fewer, longer clips; small batches give CTC and the decoder enough steps.
task_overrides = dict(
    cslr=dict(finetune=dict(epochs=10, batch_size=8, lr=3e-3)),
    slt=dict(finetune=dict(epochs=12, batch_size=8, lr=2e-3)),
)
