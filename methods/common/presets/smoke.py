# Minutes on 2 CPU cores: the shared encoder and heads narrowed (the release's structure,
# three spatial blocks and the same graphs, at a quarter of the width and one temporal
# block), a tiny text model, a short fine-tuning schedule. Every method's `smoke` preset is
# merged over this file.
_base_ = ["./paper.py"]
# Three of the harness's switches differ from the release here, chosen by measurement: at
# this size and budget the release's encoder learns SynthSign at half the rate (scratch,
# synth-islr, a quarter of the clips, 20 epochs, seed 0: 23.3% test top-1 with the release's
# values, 46.1% with these three; docs/measurements/2026-12-07-smoke-encoder-synth-islr.md):
# both hands in one pass (one set of batch statistics: training normalises each hand
# by its own, evaluation by running statistics of the two mixed), torch's Linear
# initialisation, and hands and face over a fifth of the body size (they span ~0.2 of it).
model = dict(
    encoder=dict(embed=16, spatial=[16, 32, 64], temporal=[64], d_model=128,
                 hands="joint", init="torch", part_scale=0.2,
                 context=dict(heads=4, ff=256)),
    heads=dict(
        cslr=dict(hidden=128),
        slt=dict(text=dict(vocab_size=1000, d_model=128, d_ff=256, encoder_layers=2,
                           decoder_layers=2)),
    ),
)
finetune = dict(epochs=6, batch_size=32, lr=2e-3, checkpoint_every=50)
# Sentences: fewer, longer clips; small batches give CTC and the decoder enough steps.
task_overrides = dict(
    cslr=dict(finetune=dict(epochs=10, batch_size=8, lr=3e-3)),
    slt=dict(finetune=dict(epochs=12, batch_size=8, lr=2e-3)),
)
