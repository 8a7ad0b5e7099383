# How2Sign (Duarte et al., CVPR 2021): ASL to English, BLEU with 13a tokens.
_base_ = ["./_source.py"]
data = dict(max_frames=400)
eval = dict(protocol="bleu-13a")
