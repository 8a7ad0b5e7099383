# CSL-Daily (Zhou et al., CVPR 2021), glosses: plain WER.
_base_ = ["./_source.py"]
data = dict(max_frames=400)
eval = dict(protocol="wer-plain")
