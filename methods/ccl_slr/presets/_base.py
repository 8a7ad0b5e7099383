# CCL-SLR's own parts; the sign encoder and task heads are the shared ones (methods/common).
model = dict(
    ccl=dict(
        embed_dim=128, proj_hidden=256, queue_size=4096, momentum=0.999, temperature=0.07,
        weights=dict(intra=1.0, cross=1.0),
        augment=dict(scale=0.2, rotate_deg=15.0, shear=0.2, shift=0.1, crop_min=0.7,
                     speed=0.2, jitter=0.01),
        mpm=dict(ratio=0.3, joint_protect=1.0, frame_protect=1.0, keep_anchors=True),
        spm=dict(topk=5, threshold=0.8, start_step=2000, mine_by="key", loss="mean"),
        rgb=dict(dim=1024),
    ),
)
pretrain = dict(epochs=100, batch_size=64, lr=5e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=64))
