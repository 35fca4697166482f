"""Drop-in for the part of `transformers` that zero-shot notebooks use.

    from cloze.transformers import AutoTokenizer, AutoModelForCausalLM

and the notebook's own code runs unchanged: ``tokenizer.encode(" positive")``,
``tokenizer(prompt, return_tensors="pt").input_ids``,
``model(input_ids).logits[0, -1]``, ``model.generate(...)`` after
``set_seed(...)``. Tensors come back as the kind that went in: torch tensors
for torch input (return_tensors="pt" needs torch installed), numpy otherwise.
Only what such notebooks use is here, and it behaves exactly as there; other
arguments are refused or ignored where they cannot change the numbers
(device, dtype hints).
"""
import json
import os
import random
import types

import numpy as np

from . import _check
from ._cloze import ClozeError
from ._tensors import like
from .model import Model
from .tokenizer import BatchEncoding, Tokenizer

__all__ = ["AutoTokenizer", "AutoModelForCausalLM", "set_seed"]

_rng = random.Random()


def set_seed(seed):
    """Makes the following sampled generate() calls reproducible, as
    transformers.set_seed does for torch's generator."""
    _rng.seed(int(seed))


class AutoTokenizer:
    @staticmethod
    def from_pretrained(pretrained_model_name_or_path, *args, **kwargs):
        return Tokenizer.from_pretrained(pretrained_model_name_or_path)


class CausalLMOutput(BatchEncoding):
    """``out.logits`` (or ``out[0]``, ``out["logits"]``): (batch, sequence,
    vocab) float32, as transformers returns."""

    def __getitem__(self, key):
        if isinstance(key, int):
            return tuple(self.values())[key]
        return super().__getitem__(key)


# Arguments that would change what transformers returns (a loss, a cache); the
# rest (use_cache, return_dict, output_* = False) change nothing here.
_REFUSED = ("labels", "past_key_values", "inputs_embeds", "output_hidden_states", "output_attentions")


def _refuse(kwargs, what):
    for k in _REFUSED:
        v = kwargs.get(k)
        if v is not None and v is not False:
            raise ClozeError(f"{what}: {k}= is not supported by cloze.transformers")


class CausalLM:
    """A model as AutoModelForCausalLM gives it: call it for logits, generate()."""

    def __init__(self, model):
        self._m = model
        self.name_or_path = model.name_or_path
        with open(os.path.join(model.dir, "config.json"), encoding="utf-8") as f:
            self.config = types.SimpleNamespace(**json.load(f))
        self.device = "cpu"

    # torch-module habits that change nothing here
    def eval(self):
        return self

    def to(self, *args, **kwargs):
        return self

    def cpu(self):
        return self

    def _rows(self, input_ids):
        if input_ids is None:
            raise ClozeError("model(): input_ids is required")
        a = _check.to_numpy(input_ids)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2:
            raise ClozeError(f"model(): input_ids must be (batch, sequence), got shape {a.shape}")
        return a

    @staticmethod
    def _check_mask(attention_mask):
        if attention_mask is not None and not np.all(_check.to_numpy(attention_mask) == 1):
            raise ClozeError("model(): attention_mask with padding (zeros) is not supported; "
                             "run one unpadded sequence per call")

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        _refuse(kwargs, "model()")
        self._check_mask(attention_mask)
        rows = self._rows(input_ids)
        logits = np.stack([self._m.logits(r, all_positions=True) for r in rows])
        return CausalLMOutput(logits=like(logits, input_ids))

    forward = __call__

    def generate(self, input_ids=None, attention_mask=None, max_new_tokens=None, max_length=None, do_sample=False,
                 temperature=1.0, top_k=50, top_p=1.0, min_p=None, eos_token_id=None, pad_token_id=None,
                 inputs=None, **kwargs):
        """Prompt + generated ids per row, (batch, length); rows that end early
        (EOS) are padded with pad_token_id (else the EOS id), as transformers does."""
        if input_ids is None:
            input_ids = inputs
        if kwargs.get("num_beams", 1) != 1 or kwargs.get("num_return_sequences", 1) != 1:
            raise ClozeError("generate: beam search and num_return_sequences are not supported by cloze.transformers")
        self._check_mask(attention_mask)
        rows = self._rows(input_ids)
        if max_new_tokens is None:
            max_new_tokens = (max_length - rows.shape[1]) if max_length is not None else 20
        if max_new_tokens < 0:
            raise ClozeError(f"generate: max_length {max_length} is shorter than the prompt ({rows.shape[1]} tokens)")
        eos = None if eos_token_id is None else ([eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id))
        outs = []
        for r in rows:
            if do_sample:
                g = self._m.generate(r, max_tokens=max_new_tokens, temperature=temperature, top_k=top_k or 0,
                                     top_p=top_p, min_p=min_p or 0.0, seed=_rng.getrandbits(63), eos_ids=eos)
            else:
                g = self._m.generate(r, max_tokens=max_new_tokens, eos_ids=eos)
            outs.append(np.concatenate([r.astype(np.int64), g.ids.astype(np.int64)]))
        width = max(len(o) for o in outs)
        pad = pad_token_id if pad_token_id is not None else (eos or self._m._model.eos_ids or [0])[0]
        full = np.full((len(outs), width), pad, dtype=np.int64)
        for i, o in enumerate(outs):
            full[i, :len(o)] = o
        return like(full, input_ids)


class AutoModelForCausalLM:
    @staticmethod
    def from_pretrained(pretrained_model_name_or_path, *args, threads=0, precision="exact", **kwargs):
        return CausalLM(Model.from_pretrained(pretrained_model_name_or_path, threads=threads, precision=precision))
