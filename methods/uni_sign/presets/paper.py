# The paper's pose-only setting: stage 1 (pose-only pre-training by text generation) for 20
# epochs at lr 3e-4, then 20 fine-tuning epochs at lr 3e-4, mT5-base (give its local folder:
# --set model.text.name_or_path=DIR), beam 4 and up to 100 new tokens. The release's
# effective batch (16 x 8 accumulation x 4 GPUs in stage 1, 8 x 4 GPUs in stage 3) has no
# gradient accumulation here: batch_size is the per-step batch.
_base_ = ["./_base.py"]
