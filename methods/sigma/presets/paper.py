# The paper's setting as far as it is known: ~10 pre-training and ~10 fine-tuning epochs,
# mT5-base (give its local folder: --set model.text.name_or_path=DIR), the shared encoder
# (Uni-Sign's, which Sigma uses per its reviews). Unknown, chosen here: fusion depth (2),
# clusters (8), embedding width (256), learning rates (3e-4), loss weights (all 1).
_base_ = ["./_base.py"]
finetune = dict(epochs=10)
