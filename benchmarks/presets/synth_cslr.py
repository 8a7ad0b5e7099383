# SynthSign continuous recognition: gloss sequences with transitions between signs.
_base_ = ["./_synth.py"]
data = dict(max_frames=96)
