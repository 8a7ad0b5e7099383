# The paper's setting as far as it is known: ISLR pre-training on the benchmark's own clips,
# then fine-tuning, with the Uni-Sign-width part-wise ST-GCN. Unknown, chosen here: MoCo /
# SkeletonCLR contrast settings (queue 4096, momentum 0.999, tau 0.07), 100 pre-training
# epochs at batch 64, transformer depth (4), the MPM / SPM values, and scratch's
# fine-tuning schedule (40 epochs, lr 3e-4) so that the comparison isolates pre-training.
_base_ = ["./_base.py"]
