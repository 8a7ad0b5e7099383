# SynthSign translation: the CSLR sentences with their spoken-English text (13a BLEU).
_base_ = ["./_synth.py"]
data = dict(max_frames=96)
eval = dict(bleu_tokenize="13a", lowercase=False, rouge_beta=1.2)
