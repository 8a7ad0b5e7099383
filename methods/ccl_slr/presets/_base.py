# Shared structure of the CCL-SLR presets; `paper` and `smoke` are diffs of it.
model = dict(
    encoder=dict(
        embed=64, spatial=[128, 256], temporal=[256, 256, 256], kt=5, d_model=256,
        dropout=0.1, conf_threshold=0.3, rel_scale=0.2, max_hop=1,
        context=dict(layers=4, heads=8, ff=1024, dropout=0.1),
    ),
    ccl=dict(
        embed_dim=128, proj_hidden=256, queue_size=4096, momentum=0.999, temperature=0.07,
        weights=dict(intra=1.0, cross=1.0),
        augment=dict(scale=0.2, rotate_deg=15.0, shear=0.2, shift=0.1, crop_min=0.7,
                     speed=0.2, jitter=0.01),
        mpm=dict(ratio=0.3, joint_protect=1.0, frame_protect=1.0, keep_anchors=True),
        spm=dict(topk=5, threshold=0.8, start_step=2000, mine_by="key", loss="mean"),
        rgb=dict(dim=1024),
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
pretrain = dict(epochs=100, batch_size=64, lr=5e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=64))
finetune = dict(epochs=40, batch_size=32, eval_batch_size=64, lr=3e-4, weight_decay=0.01,
                warmup_ratio=0.05, grad_clip=1.0, eval_every=1, checkpoint_every=200)
precision = "fp32"
task_overrides = dict()
