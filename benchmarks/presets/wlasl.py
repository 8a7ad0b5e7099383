# WLASL (Li et al., WACV 2020): isolated ASL signs, signer-independent splits of the
# official WLASL_v0.3.json. `bench.subset` picks WLASL100/300/1000/2000.
_base_ = ["./_source.py"]
bench = dict(subset=2000)
eval = dict(protocol="islr-topk")
