# RWTH-PHOENIX-Weather 2014 (Koller et al., CVIU 2015): continuous German sign language,
# multi-signer; WER with the official clean-up and sclite's alignment.
_base_ = ["./_source.py"]
data = dict(max_frames=400)
eval = dict(protocol="wer-phoenix")
