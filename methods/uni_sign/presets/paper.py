# The paper's pose-only setting: stage 1 (pose-only pre-training by text generation) for 20
# epochs at lr 3e-4, then 20 fine-tuning epochs at lr 3e-4, mT5-base (give its local folder:
# --set model.text.name_or_path=DIR), beam 4 and up to 100 new tokens.
_base_ = ["./_base.py"]
# The release's data path: no augmentation, a sorted random subset of frames for clips
# longer than 256 (64 for ISLR) in training (evaluation here samples evenly instead: the
# release's random evaluation frames are a protocol trap), the batch padded by repeating
# the last frame (the shared encoder's padding="repeat").
data = dict(max_frames=256, sampling="random",
            augment=dict(speed=0.0, scale=0.0, rotate_deg=0.0, shift=0.0))
task_overrides = dict(islr=dict(data=dict(max_frames=64)))
