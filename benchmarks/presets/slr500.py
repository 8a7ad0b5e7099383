# SLR500 (CSL isolated, Huang et al. 2018): 500 Chinese signs, signer split, train/test only.
_base_ = ["./_source.py"]
eval = dict(protocol="islr-topk")
