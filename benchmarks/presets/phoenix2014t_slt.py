# RWTH-PHOENIX-Weather 2014 T, German translations: BLEU with 13a tokens (Uni-Sign,
# GFSLT-VLP); SignJoey-style numbers: --set eval.protocol=bleu-none.
_base_ = ["./_source.py"]
data = dict(max_frames=400)
eval = dict(protocol="bleu-13a")
