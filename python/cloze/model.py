"""cloze.Model: a loaded causal LM: float32 logits and generation."""
import dataclasses
import os

import numpy as np

from . import _check, _cloze


@dataclasses.dataclass
class Generation:
    ids: np.ndarray          # the generated ids (not the prompt); int32
    text: str                # their text, cut before a stop string ("" without a tokenizer)
    finish_reason: str       # "length" | "eos" | "stop"
    prompt_tokens: int


PRECISIONS = ("exact", "bf16")


def check_precision(precision):
    if precision not in PRECISIONS:
        raise _cloze.ClozeError(f'precision: expected "exact" or "bf16", got {precision!r}')
    return precision


def load_engine(model, threads=0, precision="exact"):
    """(native model, native tokenizer or None) for a directory or Hub id."""
    spec = _check.path_or_spec(model)
    if not isinstance(threads, int) or threads < 0:
        raise _cloze.ClozeError(f"threads: expected a non-negative integer (0: all cores), got {threads!r}")
    check_precision(precision)  # before resolving (a Hub id may download)
    path = _cloze.resolve_model(spec)
    tok_json = os.path.join(path, "tokenizer.json")
    tok = _cloze.Tokenizer.from_file(tok_json) if os.path.isfile(tok_json) else None
    return _cloze.Model(path, threads, tok, precision), tok


class Model:
    """Load with ``Model.from_pretrained("Qwen/Qwen2-0.5B", threads=0)``.

    precision="exact" (default) keeps every matmul float32-accurate;
    precision="bf16" rounds activations to bf16 where the AMX kernel set runs
    (faster, not exact; `cloze --precision bf16`; other CPUs stay exact).

    Safe to share between Python threads: calls on one model run one at a
    time, with the GIL released while the engine runs."""

    def __init__(self, native, tokenizer=None, name=""):
        self._model = native
        self._tok = tokenizer
        self.name_or_path = name

    @classmethod
    def from_pretrained(cls, id_or_dir, threads=0, precision="exact", **_ignored):
        native, tok = load_engine(id_or_dir, threads, precision)
        return cls(native, tok, os.fspath(id_or_dir))

    @property
    def tokenizer(self):
        """The model directory's tokenizer as a cloze.Tokenizer, or None."""
        from .tokenizer import Tokenizer
        return None if self._tok is None else Tokenizer(self._tok, self.name_or_path)

    @property
    def dir(self):
        return self._model.dir

    @property
    def vocab_size(self):
        return self._model.vocab_size

    @property
    def threads(self):
        return self._model.threads

    @property
    def precision(self):
        """"exact" or "bf16": how this model's matmuls treat activations."""
        return self._model.precision

    def logits(self, ids, all_positions=False):
        """float32 next-token logits: shape (vocab,) for the last position, or
        (len(ids), vocab) with all_positions; the numbers `cloze logits` prints."""
        return self._model.logits(_check.ids_array(ids), bool(all_positions))

    def _prompt_ids(self, prompt):
        if isinstance(prompt, str):
            if self._tok is None:
                raise _cloze.ClozeError("generate: the model directory has no tokenizer.json; pass token ids")
            return np.asarray(self._tok.encode(prompt), dtype=np.int32)
        return _check.ids_array(prompt, "prompt")

    def generate(self, prompt, max_tokens=64, temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, seed=0,
                 stop=(), eos_ids=None, ignore_eos=False):
        """Greedy (temperature 0) or seeded sampling after `prompt` (text or ids),
        as `cloze generate` does; returns a Generation."""
        if isinstance(stop, str):
            stop = [stop]
        stop = _check.texts_list(stop, "stop")
        r = self._model.generate(self._prompt_ids(prompt), _check.count(max_tokens, "max_tokens"),
                                 float(temperature), _check.count(top_k, "top_k"), float(top_p), float(min_p),
                                 _check.count(seed, "seed"), stop,
                                 None if eos_ids is None else [int(i) for i in eos_ids], bool(ignore_eos))
        return Generation(np.asarray(r["ids"], dtype=np.int32), r["text"], r["finish_reason"], r["prompt_tokens"])

    def __repr__(self):
        return f"cloze.Model({self.name_or_path!r}, dir={self.dir!r}, threads={self.threads}, precision={self.precision!r})"
