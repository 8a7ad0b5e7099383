# The sign encoder and task heads that every method fine-tunes, written once: each method's
# `paper` preset is merged over this file (harness/method.py: Method.preset_files).
# Encoder: Uni-Sign's released pose encoder, its function shown equal to the release's by
# tests/test_encoder_golden.py (methods/encoders/stgcn.py documents every value). The
# harness's own switches keep the release's values here: padding="repeat" (the release's
# batch padding), no temporal transformer (context.layers=0), dropout 0, each hand through
# the shared chain on its own (hands="separate"), trunc-normal(0.02) Linear layers
# (init="release"), hands and face over the body size itself (part_scale=1.0).
model = dict(
    encoder=dict(
        embed=64, spatial=[64, 128, 256], temporal=[256, 256, 256], kt=5, d_model=768,
        dropout=0.0, conf_threshold=0.3, max_hop=1, padding="repeat",
        hands="separate", init="release", part_scale=1.0,
        context=dict(layers=0, heads=8, ff=3072, dropout=0.1),
    ),
    # Task heads (methods/heads/models.py); the release has none of these but Uni-Sign's
    # generation, so they are the harness's: a linear classifier, CTC with temporal
    # convolutions and beam search, a seq2seq text model over the sign features. The
    # decoder configured here both selects the checkpoint on dev and makes the reported
    # predictions.
    heads=dict(
        islr=dict(dropout=0.2, label_smoothing=0.1, topk=5),
        cslr=dict(downsample=1, context="tconv", hidden=256, dropout=0.1, beam=5,
                  decoder="beam"),
        slt=dict(
            text=dict(type="tiny_t5", vocab_size=4000, d_model=256, d_ff=1024, heads=4,
                      encoder_layers=3, decoder_layers=3, dropout=0.1),
            label_smoothing=0.2, beam=4, max_new_tokens=100, max_target_tokens=128,
        ),
    ),
)
# Fine-tuning: one schedule for every method unless a method's paper says otherwise (its
# preset then overrides it and says why), so that comparisons isolate pre-training.
finetune = dict(epochs=40, batch_size=32, eval_batch_size=64, lr=3e-4, weight_decay=0.01,
                warmup_ratio=0.05, grad_clip=1.0, eval_every=1, checkpoint_every=200)
precision = "fp32"
task_overrides = dict()
