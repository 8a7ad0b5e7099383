# OpenASL (Shi et al., EMNLP 2022): ASL to English in the wild, BLEU with 13a tokens.
_base_ = ["./_source.py"]
data = dict(max_frames=400)
eval = dict(protocol="bleu-13a")
