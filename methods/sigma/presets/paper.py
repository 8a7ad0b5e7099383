# The paper's setting as far as it is known: ~10 pre-training and ~10 fine-tuning epochs,
# mT5-base (give its local folder: --set model.text.name_or_path=DIR), the Uni-Sign-width
# part-wise ST-GCN. Unknown, chosen here: temporal transformer depth (4), fusion depth (2),
# clusters (8), embedding width (256), learning rates (3e-4), loss weights (all 1).
_base_ = ["./_base.py"]
