# Shared structure of the MSLP presets; `paper` and `smoke` are diffs of it.
model = dict(
    encoder=dict(
        embed=64, spatial=[128, 256], temporal=[256, 256, 256], kt=5, d_model=256,
        dropout=0.1, conf_threshold=0.3, rel_scale=0.2, max_hop=1,
        context=dict(layers=4, heads=8, ff=1024, dropout=0.1),
    ),
    # The frozen text encoder of the contrastive losses (a local folder or a packaged name).
    text=dict(name_or_path="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
              max_tokens=64),
    mslp=dict(
        mask=dict(frame_ratio=0.2, joint_ratio=0.3, keep_anchors=True),
        decoder=dict(hidden=256),
        reconstruction=dict(distance="l1", confidence_weighted=True,
                            part_weights=dict(body=1.0, left_hand=1.0, right_hand=1.0,
                                              face=1.0)),
        contrast=dict(embed_dim=256, init_temperature=0.07, features="unmasked"),
        weights=dict(mpm=1.0, contrast_global=1.0, contrast_fine=1.0),
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
pretrain = dict(epochs=100, batch_size=128, lr=5e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=128))
finetune = dict(epochs=40, batch_size=32, eval_batch_size=64, lr=3e-4, weight_decay=0.01,
                warmup_ratio=0.05, grad_clip=1.0, eval_every=1, checkpoint_every=200)
precision = "fp32"
task_overrides = dict()
