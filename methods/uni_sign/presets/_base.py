# Uni-Sign's own parts; the sign encoder is the shared one (methods/common), whose last
# Linear is the release's pose_proj: its width (model.encoder.d_model) must be the LM's.
model = dict(
    text=dict(type="pretrained", name_or_path="google/mt5-base"),
    uni_sign=dict(
        prompt="Translate sign language video to {language}: ", prompt_eos=True,
        pretrain_language=None, label_smoothing=0.2, max_target_tokens=50,
        beam=4, islr_beam=5, length_penalty=1.0, max_new_tokens=100,
    ),
)
# The stages under both presets: paper.py replaces every value with the release's; the smoke
# preset sets its own sizes and keeps these optimiser values (the harness's choices).
pretrain = dict(epochs=20, batch_size=16, lr=3e-4, weight_decay=0.01, warmup_ratio=0.05,
                grad_clip=1.0, checkpoint_every=500, checkpoint=None, data=dict(max_frames=256))
finetune = dict(epochs=20, batch_size=8, eval_batch_size=32, lr=3e-4, weight_decay=0.01,
                warmup_ratio=0.05, grad_clip=1.0, eval_every=1, checkpoint_every=500)
