# Shared structure of the Sigma presets; `paper` and `smoke` are diffs of it.
model = dict(
    encoder=dict(
        embed=64, spatial=[128, 256], temporal=[256, 256, 256], kt=5, d_model=256,
        dropout=0.1, conf_threshold=0.3, rel_scale=0.2, max_hop=1,
        context=dict(layers=4, heads=8, ff=1024, dropout=0.1),
    ),
    text=dict(type="pretrained", name_or_path="google/mt5-base"),
    sigma=dict(
        embed_dim=256, init_temperature=0.07, clusters=8, text_unit="subword",
        local_temperature=0.1, mine_from="global", max_text_tokens=64,
        lm_label_smoothing=0.1, freeze_text_encoder=False,
        fusion=dict(layers=2, heads=8, mode="bidirectional"),
        weights=dict(hal_global=1.0, hal_local=1.0, sgt_match=1.0, sgt_lm=1.0),
    ),
    heads=dict(
        islr=dict(dropout=0.2, label_smoothing=0.1, topk=5),
        cslr=dict(downsample=1, context="tconv", hidden=256, dropout=0.1, beam=5,
                  final_decoder="beam"),
        slt=dict(label_smoothing=0.2, beam=4, max_new_tokens=100, select_max_new_tokens=100,
                 max_target_tokens=128),
    ),
)
pretrain = dict(epochs=10, batch_size=32, lr=3e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=256))
finetune = dict(epochs=10, batch_size=32, eval_batch_size=64, lr=3e-4, weight_decay=0.01,
                warmup_ratio=0.05, grad_clip=1.0, eval_every=1, checkpoint_every=200)
precision = "fp32"
task_overrides = dict()
