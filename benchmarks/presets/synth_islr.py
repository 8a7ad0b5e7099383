# SynthSign isolated recognition: one sign per clip, signers disjoint across splits.
# `data.synth` is the generator's config; changing it generates (and fingerprints) a new store.
_base_ = ["./_synth.py"]
data = dict(max_frames=32)
