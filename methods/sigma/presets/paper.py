# The paper's setting as far as it is known: ~10 pre-training and ~10 fine-tuning epochs,
# mT5-base (give its local folder: --set model.text.name_or_path=DIR), the shared encoder
# (Uni-Sign's, which Sigma uses per its reviews), reused with the SGT encoder's layers for
# every task (the paper's "both the sign and SGT encoders are reused"). Unknown, chosen
# here: SGT layer count (2), their feed-forward width (3072) and dropout (0.1), clusters (8),
# embedding width (256), learning rates (3e-4), loss weights (all 1).
_base_ = ["./_base.py"]
finetune = dict(epochs=10)
