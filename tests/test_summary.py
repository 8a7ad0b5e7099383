"""The summary table: grouping by configuration, spread over seeds, switches shown."""

from harness.analysis.summary import summary_table


def cell(method, seed, top1, chash, cfg):
    result = {"bench": "synth-islr", "task": "islr", "method": method, "seed": seed,
              "config_hash": chash, "metrics": {"test": {"top1": top1, "top5": 99.0}},
              "signatures": {"topk": "protocol:islr-topk|version:1"}}
    return result, {"method": {"name": method}, "bench": {"name": "synth-islr"}, **cfg}


def test_rows_group_seeds_and_show_switches():
    base = {"model": {"w": 1.0, "fusion": "bi"}}
    results = [
        cell("sigma", 0, 60.0, "h1", base), cell("sigma", 1, 64.0, "h1", base),
        cell("sigma", 2, 62.0, "h1", base),
        cell("sigma", 0, 50.0, "h2", {"model": {"w": 0.0, "fusion": "bi"}}),
        cell("sigma", 0, 55.0, "h3", {"model": {"w": 1.0, "fusion": "text"}}),
        cell("scratch", 0, 40.0, "h4", {"model": {"x": 3}}),
    ]
    table = summary_table(results)
    rows = [line for line in table.splitlines() if line.startswith("| s")]
    assert rows[0].startswith("| scratch | - | 1 | 40.00 |")
    assert rows[1].startswith("| sigma | - | 3 | 62.00 ± 2.00 | 99.00 ± 0.00 | h1 |")
    assert rows[2].startswith("| sigma | model.fusion=text | 1 | 55.00 |")
    assert rows[3].startswith("| sigma | model.w=0.0 | 1 | 50.00 |")
    assert "synth-islr (islr, test)" in table
