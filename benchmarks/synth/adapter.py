"""The SynthSign benchmarks: synthetic signing generated on first use into a prepared store.

``synth-islr`` holds isolated signs; ``synth-cslr`` and ``synth-slt`` share one store of
signed sentences (gloss sequences and their English text). The store's directory name
carries a hash of the generator config and version, so a changed config is a new store
with its own fingerprint. A pre-training corpus of pose+text pairs over the same lexicon
(train and pre-training-only signers, never dev/test signers) is generated the same way.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, ClassVar

from benchmarks._common import ScoredBenchmark
from benchmarks.synth.generator import GENERATOR_VERSION, SynthConfig, generate
from harness.core.config import short_hash
from harness.core.registry import BENCHMARKS
from harness.data.store import PoseStore, StoreWriter
from harness.errors import ConfigError, UserError
from harness.io import progress
from harness.io.locks import file_lock

PRESETS = Path(__file__).resolve().parent.parent / "presets"


class SynthBenchmark(ScoredBenchmark):
    """Base of the SynthSign adapters; ``kind`` names the generated set."""

    kind: ClassVar[str]
    version = f"synthsign-{GENERATOR_VERSION}"
    synthetic = True

    def generator_config(self) -> SynthConfig:
        """The generator config from ``data.synth``."""
        raw = dict(self.cfg.get("data", {}).get("synth", {}))
        try:
            return SynthConfig(**raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"data.synth: {exc}") from None

    def _dir(self, kind: str) -> Path:
        cfg = dataclasses.asdict(self.generator_config())
        return self.root / f"synth-{kind}-{short_hash(kind, GENERATOR_VERSION, cfg)[:10]}"

    def store_dir(self) -> Path:
        """The generated store of this benchmark's kind for the configured generator."""
        return self._dir(self.kind)

    def prepare_hint(self) -> str:
        """The command that generates this benchmark."""
        return f"python -m harness prepare {self.name}"

    def open(self) -> PoseStore:
        """Open the store, generating it first if needed."""
        self.prepare(None)
        return super().open()

    def pretrain_store(self) -> PoseStore:
        """The synthetic pose+text pre-training corpus, generated on first use."""
        return PoseStore(self._generate("pretrain", force=False),
                         verify=bool(self.cfg.get("data", {}).get("verify", True)))

    def prepare(self, source: Path | None, force: bool = False, **options: Any) -> Path:
        """Generate the store (no source files: SynthSign is generated from its config)."""
        if source is not None or any(v is not None for v in options.values()):
            raise UserError(f"{self.name} is generated, it takes no --source, --format or "
                            f"--labels; change it with --set data.synth.KEY=VALUE")
        return self._generate(self.kind, force)

    def _generate(self, kind: str, force: bool) -> Path:
        path = self._dir(kind)
        if (path / "store.json").exists() and not force:
            return path
        self.root.mkdir(parents=True, exist_ok=True)
        # one generator per store; the others wait, then reuse it
        with file_lock(self.root / f".{path.name}.lock"):
            if (path / "store.json").exists() and not force:
                return path
            gen_cfg = self.generator_config()
            print(f"generating SynthSign {kind} set into {path}", file=sys.stderr, flush=True)
            info = {"generator": "synthsign", "generator_version": GENERATOR_VERSION,
                    "kind": kind, "config": dataclasses.asdict(gen_cfg)}
            made = generate("cslr" if kind == "sentences" else kind, gen_cfg)
            clips = progress.bar(f"generate SynthSign {kind}", made,
                                 total=clip_count(kind, gen_cfg), unit="clip")
            with StoreWriter(path, info=info) as writer, clips:
                for clip in clips:
                    writer.add(clip.id, clip.pose, split=clip.split, signer=clip.signer,
                               gloss=clip.gloss, text=clip.text, source="synthsign")
                writer.close()
        return path


def clip_count(kind: str, cfg: SynthConfig) -> int:
    """How many clips the generator makes of a set (``islr``, ``sentences``, ``pretrain``)."""
    if kind == "islr":  # every gloss by every signer: train repeated, dev and test once
        return cfg.vocab_size * (cfg.n_train_signers * cfg.islr_reps_per_signer
                                 + cfg.n_dev_signers + cfg.n_test_signers)
    return cfg.pretrain_sentences if kind == "pretrain" else sum(cfg.cslr_sentences)


@BENCHMARKS.register("synth-islr")
class SynthISLR(SynthBenchmark):
    """SynthSign isolated signs (the embedded default benchmark)."""

    task = "islr"
    kind = "islr"
    summary = "SynthSign isolated signs, disjoint signers (embedded default)"
    preset = PRESETS / "synth_islr.py"


@BENCHMARKS.register("synth-cslr")
class SynthCSLR(SynthBenchmark):
    """SynthSign signed sentences, recognised as gloss sequences."""

    task = "cslr"
    kind = "sentences"
    summary = "SynthSign signed sentences -> gloss sequences (WER)"
    preset = PRESETS / "synth_cslr.py"


@BENCHMARKS.register("synth-slt")
class SynthSLT(SynthBenchmark):
    """SynthSign signed sentences, translated to English text."""

    task = "slt"
    kind = "sentences"
    summary = "SynthSign signed sentences -> English text (BLEU, ROUGE-L)"
    preset = PRESETS / "synth_slt.py"
