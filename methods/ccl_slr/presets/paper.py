# The paper's setting as far as it is known: ISLR pre-training on the benchmark's own clips,
# then fine-tuning, with the shared encoder. Unknown, chosen here: MoCo / SkeletonCLR
# contrast settings (queue 4096, momentum 0.999, tau 0.07), 100 pre-training epochs at
# batch 64, the MPM / SPM values, the loss weights, and the shared fine-tuning schedule.
# Without RGB features (every benchmark today) this is the pose-only adaptation: the
# cross-modal consistency runs between the joint and motion streams (_base.py).
_base_ = ["./_base.py"]
