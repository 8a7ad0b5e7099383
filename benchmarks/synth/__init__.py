"""SynthSign: deterministic synthetic signing (articulated 2D signer, lexicon, grammar)."""

from benchmarks.synth import adapter  # noqa: F401  (registers synth-islr, synth-cslr, synth-slt)
