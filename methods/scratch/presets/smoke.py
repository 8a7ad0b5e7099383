# Minutes on 2 CPU cores: narrow channels, one temporal block, a tiny text model.
_base_ = ["./_base.py"]
model = dict(
    encoder=dict(embed=16, spatial=[32, 64], temporal=[64], d_model=128),
    heads=dict(
        cslr=dict(hidden=128),
        slt=dict(text=dict(vocab_size=1000, d_model=128, d_ff=256, encoder_layers=2,
                           decoder_layers=2), select_max_new_tokens=40),
    ),
)
finetune = dict(epochs=8, batch_size=32, lr=2e-3, checkpoint_every=50)
task_overrides = dict(
    cslr=dict(finetune=dict(epochs=12)),
    slt=dict(finetune=dict(epochs=15)),
)
