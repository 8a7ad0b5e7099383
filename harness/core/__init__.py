"""The interfaces the harness is written against: the plugin registries, config rules and
files, tasks, the method and metric-protocol interfaces, skeleton layouts and poses."""
