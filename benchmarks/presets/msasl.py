# MS-ASL (Joze and Koller, BMVC 2019): isolated ASL signs; `bench.subset` picks
# MSASL100/200/500/1000 (the classes with index below N).
_base_ = ["./_source.py"]
bench = dict(subset=1000)
eval = dict(protocol="islr-topk")
