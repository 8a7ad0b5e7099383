# Shared by the adapters of published datasets (benchmarks/_source.py). `bench.source` may
# name the files to prepare from (else `prepare --source`); `bench.fps` the frame rate of
# formats that store none; `bench.text_normalise` / `bench.gloss_normalise` override the
# adapter's normalisations (named in benchmarks/_source.py: NORMALISERS).
bench = dict(source=None, fps=None, text_normalise=None, gloss_normalise=None)
# `data.sampling` cuts training clips longer than max_frames down (uniform | random); the
# spatial augmentations act on the encoder's normalised coordinates (harness/data.py).
data = dict(max_frames=64, verify=True, train_fraction=1.0, subset_seed=0, sampling="uniform",
            augment=dict(speed=0.2, scale=0.1, rotate_deg=10.0, shift=0.05))
eval = dict()
