# WLASL (Li et al., WACV 2020): isolated ASL signs, signer-independent splits of the
# official WLASL_v0.3.json. `bench.subset` picks WLASL100/300/1000/2000.
bench = dict(subset=2000)
data = dict(max_frames=64, verify=True, train_fraction=1.0, subset_seed=0,
            augment=dict(speed=0.2, scale=0.1, rotate_deg=10.0, shift=0.05))
eval = dict()
