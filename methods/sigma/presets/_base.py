# Sigma's own parts; the sign encoder and task heads are the shared ones (methods/common).
model = dict(
    text=dict(type="pretrained", name_or_path="google/mt5-base"),
    sigma=dict(
        embed_dim=256, init_temperature=0.07, clusters=8, text_unit="subword",
        local_temperature=0.1, mine_from="global", max_text_tokens=64,
        lm_label_smoothing=0.1, freeze_text_encoder=False,
        fusion=dict(layers=2, heads=8, ff=3072, dropout=0.1, mode="bidirectional"),
        weights=dict(hal_global=1.0, hal_local=1.0, sgt_match=1.0, sgt_lm=1.0),
    ),
    # SLT decodes with Sigma's own LM (model.text, pre-trained in the SGT path), not with
    # a separate text model.
    heads=dict(slt=dict(text=None)),
)
pretrain = dict(epochs=10, batch_size=32, lr=3e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=256))
