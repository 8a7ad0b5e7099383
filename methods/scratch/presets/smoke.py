# Minutes on 2 CPU cores: the shared smoke encoder, heads and schedule.
_base_ = ["./_base.py"]
