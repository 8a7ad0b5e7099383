"""`python -m harness score`: external prediction files scored with a benchmark's protocol,
every number printed with its signature; bad input ends in one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.metric import get_protocol


def write(path: Path, content: str | bytes | dict | list) -> Path:
    """Write text, bytes, a JSON object, or JSONL rows (a list of dicts) to ``path``."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    elif isinstance(content, list):
        path.write_text("".join(json.dumps(r) + "\n" for r in content), encoding="utf-8")
    else:
        path.write_text(content, encoding="utf-8")
    return path


def score(harness, *args: str):
    return harness("score", *args, timeout=120)


def test_islr_plain_text_lines(harness, tmp_path):
    ref = write(tmp_path / "ref.txt", "A\nB\nC\nA\n")
    hyp = write(tmp_path / "hyp.txt", "A\r\nC\r\nC\r\nA\r\n")  # CRLF lines are fine
    done = score(harness, "--bench", "synth-islr", "--ref", str(ref), "--hyp", str(hyp))
    assert done.code == 0, done.err
    rows = {line.split()[0]: line.split() for line in done.out.splitlines()[2:]}
    assert rows["top1"][1] == "75.00"          # 3 of 4 clips
    assert rows["pc_top1"][1] == "66.67"       # A 2/2, B 0/1, C 1/1
    assert rows["top1"][2] == "protocol:islr-topk|version:1"
    assert "metric protocol islr-topk version 1, 4 clips" in done.out


def test_islr_ranked_lists_from_a_cells_predictions_file(harness, tmp_path):
    """A cell's predictions/test.jsonl scores as both --ref and --hyp, on a benchmark whose
    data is not prepared (scoring needs no data)."""
    rows = [{"id": "c1", "prediction": ["X", "Y"], "reference": "Y"},
            {"id": "c2", "prediction": ["Z", "Q", "R", "S", "T", "X"], "reference": "X"},
            {"id": "c3", "prediction": ["X"], "reference": "X"}]
    path = write(tmp_path / "test.jsonl", rows)
    done = score(harness, "--bench", "wlasl", "--ref", str(path), "--hyp", str(path), "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["protocol"] == "islr-topk" and report["clips"] == 3
    assert report["metrics"]["top1"] == pytest.approx(100 / 3)
    assert report["metrics"]["top5"] == pytest.approx(200 / 3)  # c2's X is 6th
    assert set(report["signatures"]) == set(report["metrics"])


def test_islr_nmfs_split_with_confusing_classes(harness, tmp_path):
    ref = write(tmp_path / "ref.json", {"1": "A", "2": "A", "3": "B", "4": "C"})
    hyp = write(tmp_path / "hyp.json", {"1": ["A"], "2": ["B", "A"], "3": "C", "4": "C"})
    done = score(harness, "--bench", "wlasl", "--protocol", "islr-nmfs-split", "--ref", str(ref),
                 "--hyp", str(hyp), "--json", "--set", '+eval.confusing_classes=["A","B"]')
    assert done.code == 0, done.err
    metrics = json.loads(done.out)["metrics"]
    assert metrics["top1"] == pytest.approx(50.0)
    assert metrics["top1_confusing"] == pytest.approx(100 / 3)
    assert metrics["top5_confusing"] == pytest.approx(200 / 3)
    assert metrics["top1_normal"] == pytest.approx(100.0)


def test_cslr_json_with_the_default_and_the_phoenix_protocol(harness, tmp_path):
    ref = write(tmp_path / "ref.json", {"a": "NORD REGEN", "b": "SONNE WIND STARK"})
    hyp = write(tmp_path / "hyp.json", {"b": "SONNE WIND", "a": "loc-NORD REGEN REGEN"})
    plain = score(harness, "--bench", "synth-cslr", "--ref", str(ref), "--hyp", str(hyp),
                  "--json")
    assert plain.code == 0, plain.err
    report = json.loads(plain.out)
    assert report["protocol"] == "wer-plain"
    assert report["metrics"]["wer"] == pytest.approx(100 * 3 / 5)  # 1 sub + 1 ins, 1 del
    ph = score(harness, "--bench", "synth-cslr", "--protocol", "wer-phoenix", "--ref", str(ref),
               "--hyp", str(hyp), "--json")
    assert ph.code == 0, ph.err
    report = json.loads(ph.out)
    assert report["metrics"]["wer"] == pytest.approx(100 * 1 / 5)  # cleaned: only STARK missing
    assert report["signatures"]["wer"].startswith("protocol:wer-phoenix|version:1|")


def test_slt_csv_with_13a_and_pre_tokenised_protocols(harness, tmp_path):
    refs = {"s1": "The cat sat on the mat.", "s2": "It's cold, isn't it?"}
    hyps = {"s1": "The cat sat on a mat.", "s2": "It's cold, is it?"}
    ref = write(tmp_path / "ref.csv", "id,text\n" + "".join(
        f'{k},"{v}"\n' for k, v in refs.items()))
    hyp = write(tmp_path / "hyp.csv", "id,prediction,extra\n" + "".join(
        f'{k},"{v}",x\n' for k, v in hyps.items()))
    for protocol in ("bleu-13a", "bleu-none"):
        done = score(harness, "--bench", "synth-slt", "--protocol", protocol, "--ref", str(ref),
                     "--hyp", str(hyp), "--json")
        assert done.code == 0, done.err
        report = json.loads(done.out)
        expected = get_protocol(protocol).score(hyps, refs, {"rouge_beta": 1.2})
        assert report["metrics"] == pytest.approx(expected.metrics)
        assert report["signatures"]["bleu4"] == expected.signatures["bleu"]
        assert report["signatures"]["rouge_l"] == expected.signatures["rouge_l"]


NON_UTF8 = b"A\n\xff\xfeB\n"


@pytest.mark.parametrize(("bench", "extra", "ref", "hyp", "needles"), [
    ("synth-slt", ["--protocol", "bleu-13"], "A\n", "A\n",
     ["unknown metric protocol 'bleu-13'", "did you mean bleu-13a"]),
    ("synth-slt", ["--protocol", "wer-plain"], "A\n", "A\n",
     ["wer-plain scores cslr, but synth-slt is slt", "bleu-13a"]),
    ("wlasl", ["--protocol", "islr-nmfs-split"], "A\n", "A\n",
     ["needs eval.confusing_classes", "--set +eval.confusing_classes"]),
    ("synth-cslr", [], None, "A\n", ["--ref", "does not exist"]),
    ("synth-cslr", [], "A\n", "DIR", ["--hyp", "is a folder"]),
    ("synth-cslr", [], NON_UTF8, "A\nB\n", ["--ref", "not UTF-8", "0xff", "save it as UTF-8"]),
    ("synth-cslr", [], "A\n", "", ["--hyp", "is empty"]),
    ("synth-cslr", [], "A B\nC\nD\n", "A B\nC\n",
     ["has 3 lines but", "has 2", "same number of lines"]),
    ("synth-cslr", [], {"a": "X", "b": "Y", "c": "Z"}, {"a": "X", "x": "Y"},
     ["clip ids differ", "2 clip(s)", "'b', 'c'", "'x'"]),
    ("synth-cslr", [], {"a": "X"}, "X\n", ["names its clips but", "plain text"]),
    ("synth-cslr", [], "A B\n\nC\n", "A B\nD\nC\n",
     ["reference of clip '2' is empty", "WER needs reference words"]),
    ("synth-cslr", [], {"a": "X"}, {"a": ["X"]}, ["value of clip 'a'", "cslr needs text"]),
    ("synth-cslr", [], '{"a": "X",', {"a": "X"}, ["--ref", "not valid JSON"]),
    ("synth-cslr", [], [{"id": "a", "reference": "X"}], [{"id": "a", "guess": "X"}],
     ["--hyp", "line 1 has no prediction or text field"]),
    ("synth-slt", [], "sample: a, ground-truth: X\n", "sample: a, ground-truth: X\n",
     ["--hyp", "line 1 is a Uni-Sign 'ground-truth:' line", "*_tmp_pres.txt"]),
    ("synth-slt", [], "sample: a, ground-truth: X\nsample: b, ground-truth: Y\n",
     "sample: a, prediction: X\nsample: b, prediction: Y\nZ\n",
     ["--hyp", "2 of 3 lines have Uni-Sign's", "line 3 does not", "--hyp-format lines"]),
    ("synth-slt", [], "sample: a, ground-truth: X\n",
     "sample: a, prediction: X\nsample: a, prediction: Y\n",
     ["--hyp", "line 2: clip 'a' appears twice"]),
    ("synth-slt", [], "sample: , ground-truth: X\n", "sample: a, prediction: X\n",
     ["--ref", "line 1 names no clip"]),
    ("synth-slt", [], "".join(f"sample: {c}, ground-truth: X\n" for c in "abc"),
     "sample: a, prediction: X\nsample: x, prediction: Y\n",
     ["clip ids differ", "2 clip(s) of --ref", "'b', 'c'", "1 clip(s) of --hyp", "'x'"]),
    ("synth-cslr", ["--hyp-format", "ctm"], "A B\n", "A B\n",
     ["--hyp", "line 1 does not have CTM's", "--hyp-format"]),
    ("synth-cslr", [], "n1 1 s 0.0 1.0 A\n", "n1 1 0.00 0.01 A\nn9 1 0.00 0.01 B\n",
     ["clip ids differ", "1 clip(s) of --hyp", "'n9'", "no reference"]),
    ("synth-cslr", [], "n1 1 s 0.0 1.0 A\nn1 1 s 1.0 2.0 B\n", "n1 1 0.00 0.01 A\n",
     ["--ref", "line 2: clip 'n1' appears twice"]),
], ids=["unknown-protocol", "other-task", "missing-option", "missing-file", "folder",
        "non-utf8", "empty-file", "line-count", "id-mismatch", "keyed-vs-plain", "empty-reference",
        "list-for-text", "bad-json", "jsonl-field", "unisign-refs-as-hyp", "unisign-mixed-lines",
        "unisign-twice", "unisign-no-name", "unisign-id-mismatch", "not-ctm", "ctm-extra-clip",
        "stm-twice"])
def test_bad_input_is_one_line_and_exit_2(harness, tmp_path, bench, extra, ref, hyp, needles):
    def side(name: str, content: object) -> Path:
        suffix = {dict: ".json", list: ".jsonl"}.get(type(content), ".txt")
        if isinstance(content, str) and content.startswith("{"):
            suffix = ".json"
        path = tmp_path / f"{name}{suffix}"
        if content == "DIR":
            path.mkdir()
        elif content is not None:
            write(path, content)
        return path

    done = score(harness, "--bench", bench, *extra, "--ref", str(side("ref", ref)),
                 "--hyp", str(side("hyp", hyp)))
    assert done.code == 2, (done.code, done.out, done.err)
    assert "Traceback" not in done.err
    assert len(done.error_lines) == 1, done.err
    for needle in needles:
        assert needle in done.error_lines[0], done.error_lines[0]


# Dumps of the field's code, written here in their exact line shapes (harness/analysis/score.py says
# which release file writes each). Clip names with the characters real names hold.
UNISIGN_CLIPS = {  # name -> (reference, hypothesis)
    "dev/clip-01.mp4": ("the rain comes tomorrow .", "rain comes tomorrow ."),
    "abc_0-1-rgb_front.mp4": ("Hi!", "Hello, my name is Ann."),
    "Xy-00:00:05.333-00:00:11.166.mp4": ("He said: wait, then left.", "He said: wait, left."),
    "odd, name: 7": ("a b c d", "a b c d"),
    "S000020_P0004_T00": ("today is cold", ""),   # an empty hypothesis
}


def unisign_dump(kind: str, clips: dict[str, str]) -> str:
    """Lines as Uni-Sign's evaluate() writes them: ``sample: NAME, KIND: TEXT``."""
    return "".join(f"sample: {name}, {kind}: {text}\n" for name, text in clips.items())


def test_unisign_lines_parse_at_the_first_separator(tmp_path):
    from harness.analysis.score import read_side

    path = write(tmp_path / "test_tmp_pres.txt", (
        "sample: a/b.c-d.mp4, prediction: x, prediction: y: z\n"
        "sample: e, prediction: \n"
        "sample: f, prediction:\r\n"          # an empty text whose trailing space was lost
        "sample: g, h, prediction:  two  spaces \n"))
    side = read_side("--hyp", path)
    assert side.format == "unisign" and side.keyed
    assert side.values == {"a/b.c-d.mp4": "x, prediction: y: z", "e": "", "f": "",
                           "g, h": " two  spaces "}


def test_unisign_dumps_score_as_the_same_clips_in_jsonl(harness, tmp_path):
    refs = {name: ref for name, (ref, _) in UNISIGN_CLIPS.items()}
    hyps = {name: hyp for name, (_, hyp) in reversed(UNISIGN_CLIPS.items())}  # other order
    ref = write(tmp_path / "test_tmp_refs.txt", unisign_dump("ground-truth", refs))
    hyp = write(tmp_path / "test_tmp_pres.txt", unisign_dump("prediction", hyps))
    rows = [{"id": name, "reference": refs[name], "prediction": hyps[name]} for name in refs]
    jsonl = write(tmp_path / "test.jsonl", rows)
    dumps = score(harness, "--bench", "how2sign", "--ref", str(ref), "--hyp", str(hyp), "--json")
    assert dumps.code == 0, dumps.err
    keyed = score(harness, "--bench", "how2sign", "--ref", str(jsonl), "--hyp", str(jsonl),
                  "--json")
    assert keyed.code == 0, keyed.err
    got, want = json.loads(dumps.out), json.loads(keyed.out)
    assert got["formats"] == {"ref": "unisign", "hyp": "unisign"}
    assert got["clips"] == want["clips"] == len(UNISIGN_CLIPS)
    assert got["metrics"] == want["metrics"] and got["signatures"] == want["signatures"]
    expected = get_protocol("bleu-13a").score(hyps, refs, {"rouge_beta": 1.2})
    assert got["metrics"] == pytest.approx(expected.metrics)
    # named as lines, the same files are whole lines matched by line number, prefixes included
    lines = score(harness, "--bench", "how2sign", "--format", "lines", "--ref", str(ref),
                  "--hyp", str(hyp), "--json")
    assert lines.code == 0, lines.err
    report = json.loads(lines.out)
    assert report["formats"] == {"ref": "lines", "hyp": "lines"}
    by_line = [dict(enumerate(p.read_text().splitlines())) for p in (ref, hyp)]
    as_lines = get_protocol("bleu-13a").score(by_line[1], by_line[0], {"rouge_beta": 1.2})
    assert report["metrics"] == pytest.approx(as_lines.metrics)


CTM = """;; hypotheses, one line per gloss (the PHOENIX kit's shape)
n1 1 0.01 0.01 REGEN
n2 1 0.000 0.100 SONNE
n1 1 0.00 0.01 NORD
n2 1 0.100 0.200 WIND 0.93
n3 1 0.00 0.03 [EMPTY]
n1 1 0.02 0.01 STARK
"""
STM = """;; LABEL "O" "Overall" "all clips"
n1 1 signer05 0.0 1.79769e+308 NORD REGEN
n2 1 signer01 0.0 1.79769e+308 <o,f0,male> SONNE WIND STARK
n3 1 signer01 0.0 1.79769e+308 MORGEN
n4 1 signer02 0.0 1.79769e+308 KALT NACHT
"""


def test_ctm_hypotheses_against_stm_references(harness, tmp_path):
    """Glosses in START order, [EMPTY] as no gloss, a clip without CTM lines as an empty
    hypothesis (as the PHOENIX kit fills it), and the same WER as the clips given as JSON."""
    hyp = write(tmp_path / "out.output-hypothesis-test.ctm", CTM)
    ref = write(tmp_path / "groundtruth-test.txt", STM)
    done = score(harness, "--bench", "synth-cslr", "--ref", str(ref), "--hyp", str(hyp),
                 "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["formats"] == {"ref": "stm", "hyp": "ctm"}
    # n1 NORD REGEN STARK vs NORD REGEN: 1 ins; n2: 1 del; n3: 1 del; n4: 2 del -> 5 / 8
    assert report["metrics"]["wer"] == pytest.approx(100 * 5 / 8)
    assert len(report["notes"]) == 1 and "1 clip(s)" in report["notes"][0]
    assert "'n4'" in report["notes"][0] and "empty" in report["notes"][0]
    as_json = score(harness, "--bench", "synth-cslr", "--json",
                    "--ref", str(write(tmp_path / "ref.json", {
                        "n1": "NORD REGEN", "n2": "SONNE WIND STARK", "n3": "MORGEN",
                        "n4": "KALT NACHT"})),
                    "--hyp", str(write(tmp_path / "hyp.json", {
                        "n2": "SONNE WIND", "n1": "NORD REGEN STARK", "n3": "", "n4": ""})))
    assert as_json.code == 0, as_json.err
    assert json.loads(as_json.out)["metrics"] == report["metrics"]
    text = score(harness, "--bench", "synth-cslr", "--ref", str(ref), "--hyp", str(hyp))
    assert text.code == 0, text.err
    assert "4 clips (--ref stm, --hyp ctm)" in text.out
    assert "note: 1 clip(s) of --ref" in text.out


def test_invalid_format_is_one_line_naming_the_choices(harness, tmp_path):
    ref = write(tmp_path / "ref.txt", "A\n")
    for flag in ("--format", "--hyp-format"):
        done = score(harness, "--bench", "synth-cslr", flag, "xml", "--ref", str(ref),
                     "--hyp", str(ref))
        assert done.code == 2, (done.code, done.err)
        assert "Traceback" not in done.err and len(done.error_lines) == 1, done.err
        line = done.error_lines[0]
        assert f"argument {flag}: invalid choice: 'xml'" in line, line
        for choice in ("auto", "lines", "jsonl", "unisign", "ctm", "stm"):
            assert f"'{choice}'" in line, line
    assert "unisign,ctm,stm}" in score(harness, "--help").out.replace("\n", "")
