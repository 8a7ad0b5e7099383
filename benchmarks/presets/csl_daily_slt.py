# CSL-Daily, Chinese translations: BLEU and ROUGE-L on characters.
_base_ = ["./_source.py"]
data = dict(max_frames=400)
eval = dict(protocol="bleu-char")
