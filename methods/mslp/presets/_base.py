# MSLP's own parts; the sign encoder and task heads are the shared ones (methods/common).
model = dict(
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
)
pretrain = dict(epochs=100, batch_size=128, lr=5e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=128))
