# Shared structure of the Uni-Sign presets; `paper` and `smoke` are diffs of it.
model = dict(
    # Uni-Sign's part-wise ST-GCN widths, no temporal transformer (mT5's relative attention
    # gives the pose tokens their order). d_model = mT5-base's width (768), so the encoder's
    # projection and the pose Linear span what the release's single Linear(1024, 768) spans.
    encoder=dict(
        embed=64, spatial=[128, 256], temporal=[256, 256, 256], kt=5, d_model=768,
        dropout=0.1, conf_threshold=0.3, rel_scale=0.2, max_hop=1, context=dict(layers=0),
    ),
    text=dict(type="pretrained", name_or_path="google/mt5-base"),
    uni_sign=dict(
        prompt="Translate sign language video to {language}: ", prompt_eos=True,
        pretrain_language=None, label_smoothing=0.2, max_target_tokens=50,
        beam=4, islr_beam=5, length_penalty=1.0, max_new_tokens=100,
        select_max_new_tokens=100,
    ),
)
pretrain = dict(epochs=20, batch_size=16, lr=3e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=256))
finetune = dict(epochs=20, batch_size=8, eval_batch_size=32, lr=3e-4, weight_decay=0.01,
                warmup_ratio=0.05, grad_clip=1.0, eval_every=1, checkpoint_every=500)
precision = "fp32"
task_overrides = dict()
