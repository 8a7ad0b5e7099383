# Shared structure of the scratch presets; `smoke` and `paper` are diffs of it.
model = dict(
    encoder=dict(
        embed=64, spatial=[128, 256], temporal=[256, 256, 256], kt=5, d_model=256,
        dropout=0.1, conf_threshold=0.3, rel_scale=0.2, max_hop=1, context=dict(layers=0),
    ),
    heads=dict(
        islr=dict(dropout=0.2, label_smoothing=0.1, topk=5),
        cslr=dict(downsample=1, context="tconv", hidden=256, dropout=0.1, beam=5,
                  final_decoder="beam"),
        slt=dict(
            text=dict(type="tiny_t5", vocab_size=4000, d_model=256, d_ff=1024, heads=4,
                      encoder_layers=3, decoder_layers=3, dropout=0.1),
            label_smoothing=0.2, beam=4, max_new_tokens=100, select_max_new_tokens=100,
            max_target_tokens=128,
        ),
    ),
)
finetune = dict(epochs=40, batch_size=32, eval_batch_size=64, lr=1e-3, weight_decay=0.01,
                warmup_ratio=0.05, grad_clip=1.0, eval_every=1, checkpoint_every=200)
pretrain = None
precision = "fp32"
task_overrides = dict()
