# The field's full-size encoder (Uni-Sign's release) trained from scratch with the shared
# fine-tuning schedule, as the pre-training methods fine-tune.
_base_ = ["./_base.py"]
