# RWTH-PHOENIX-Weather 2014 T (Camgoz et al., CVPR 2018), glosses: WER with the 2014-T
# release's clean-up and sclite's alignment.
_base_ = ["./_source.py"]
data = dict(max_frames=400)
eval = dict(protocol="wer-phoenix2014t")
