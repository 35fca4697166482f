"""cloze.Tokenizer: Hugging Face tokenizer.json, exactly the ids of the
`tokenizers` library, with the transformers calling conventions notebooks use."""
import os

from . import _check, _cloze
from ._cloze import ClozeError
from ._tensors import ids_tensor


class BatchEncoding(dict):
    """A dict with attribute access (``enc.input_ids``), as transformers returns."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def tokenizer_json_of(spec):
    """tokenizer.json for a file, a model directory or a Hub id."""
    spec = _check.path_or_spec(spec)
    if os.path.isfile(spec):
        return spec
    path = os.path.join(_cloze.resolve_model(spec), "tokenizer.json")
    if not os.path.isfile(path):
        raise ClozeError(f"{spec}: no tokenizer.json in the model directory {os.path.dirname(path)}")
    return path


class Tokenizer:
    """Load with ``Tokenizer.from_pretrained("Qwen/Qwen2-0.5B")`` (a Hub id, a
    model directory or a tokenizer.json file)."""

    def __init__(self, native, name=""):
        self._tok = native
        self.name_or_path = name

    @classmethod
    def from_pretrained(cls, id_or_dir, **_ignored):
        path = tokenizer_json_of(id_or_dir)
        return cls(_cloze.Tokenizer.from_file(path), os.fspath(id_or_dir))

    # -- the transformers surface ------------------------------------------------
    def encode(self, text, add_special_tokens=True, return_tensors=None, **_ignored):
        try:
            ids = self._tok.encode(_check.text(text), add_special_tokens)
        except (UnicodeEncodeError, TypeError) as e:
            raise _check.unicode_error([text], e, "text") from None
        if return_tensors is None:
            return ids
        return ids_tensor([ids], return_tensors, "encode")

    def __call__(self, text, add_special_tokens=True, return_tensors=None, return_attention_mask=True, **_ignored):
        batch = not isinstance(text, str)
        texts = _check.texts_list(text) if batch else [_check.text(text)]
        try:
            rows = self._tok.encode_batch(texts, add_special_tokens)
        except (UnicodeEncodeError, TypeError) as e:
            raise _check.unicode_error(texts, e) from None
        enc = BatchEncoding()
        if return_tensors is None and not batch:
            enc["input_ids"] = rows[0]
            if return_attention_mask:
                enc["attention_mask"] = [1] * len(rows[0])
            return enc
        enc["input_ids"] = ids_tensor(rows, return_tensors, "tokenizer")
        if return_attention_mask:
            enc["attention_mask"] = ids_tensor([[1] * len(r) for r in rows], return_tensors, "tokenizer")
        return enc

    def decode(self, ids, skip_special_tokens=False, **_ignored):
        a = _check.to_numpy(ids)
        if a.ndim == 2 and a.shape[0] == 1:
            a = a[0]
        if a.ndim == 0:
            a = a.reshape(1)
        return self._tok.decode(_check.ids_array(a, "decode"), skip_special_tokens)

    def batch_decode(self, sequences, skip_special_tokens=False, **_ignored):
        return [self.decode(s, skip_special_tokens) for s in sequences]

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self._tok.token_to_id(tokens)
        return [self._tok.token_to_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self._tok.id_to_token(ids)
        return [self._tok.id_to_token(int(i)) for i in ids]

    @property
    def eos_token_id(self):
        return self._tok.eos_id

    @property
    def eos_token(self):
        eos = self._tok.eos_id
        return None if eos is None else self._tok.id_to_token(eos)

    @property
    def vocab_size(self):
        return self._tok.vocab_size

    def __len__(self):
        return self._tok.vocab_size

    def __repr__(self):
        return f"cloze.Tokenizer({self.name_or_path!r}, vocab_size={self.vocab_size})"
