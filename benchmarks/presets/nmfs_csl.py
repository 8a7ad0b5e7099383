# NMFs-CSL (Hu et al., TOMM 2021): isolated Chinese signs, 1,067 classes, train/test only.
# The confusing/normal breakdown needs the confusing class names:
#   --set eval.protocol=islr-nmfs-split eval.confusing_classes=FILE
_base_ = ["./_source.py"]
eval = dict(protocol="islr-topk")
