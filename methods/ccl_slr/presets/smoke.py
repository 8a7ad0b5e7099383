# Minutes on 2 CPU cores: the shared smoke encoder, a queue that fits the small corpus, a
# faster-moving key encoder (few steps), SPM after the queue has been filled a few times, a
# short pre-training stage.
_base_ = ["./_base.py"]
model = dict(
    ccl=dict(embed_dim=64, proj_hidden=128, queue_size=512, momentum=0.99,
             spm=dict(start_step=60)),
)
pretrain = dict(epochs=2, batch_size=32, lr=2e-3, checkpoint_every=20, data=dict(max_frames=48))
