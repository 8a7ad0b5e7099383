# The full-size encoder of the field (Uni-Sign's part-wise ST-GCN widths) trained from
# scratch; schedule as in the pre-training methods' fine-tuning stage.
_base_ = ["./_base.py"]
finetune = dict(epochs=40, lr=3e-4)
