import json

import numpy as np
import pytest

import cloze
from conftest import FIXTURES, QWEN2_TOKENIZER


@pytest.fixture(scope="module")
def tok():
    return cloze.Tokenizer.from_pretrained(str(QWEN2_TOKENIZER))


def test_encode_matches_hf_tokenizers(tok):
    # ids made by HF `tokenizers` (tests/fixtures/tokenizer/qwen2_expected.jsonl)
    cases = [json.loads(l) for l in (FIXTURES / "tokenizer" / "qwen2_expected.jsonl").read_text(encoding="utf-8").split("\n") if l]
    assert len(cases) > 20
    bad = [c["text"] for c in cases if tok.encode(c["text"]) != c["ids"]]
    assert not bad, f"{len(bad)} of {len(cases)} differ, e.g. {bad[:3]}"


def test_seed_label_ids(tok):
    assert tok.encode(" positive") == [6785]
    assert tok.encode(" negative") == [8225]


def test_decode_round_trip_and_special(tok):
    text = "Hello, world! <|endoftext|> ünïcödé 🎉"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.decode(np.asarray([ids])) == text  # a (1, T) array as transformers allows
    assert tok.encode("<|endoftext|>") == [151643]
    assert "<|endoftext|>" not in tok.decode(ids, skip_special_tokens=True)


def test_call_shapes(tok):
    enc = tok("a b c")
    assert enc.input_ids == tok.encode("a b c") and enc["attention_mask"] == [1] * len(enc.input_ids)
    arr = tok("a b c", return_tensors="np").input_ids
    assert arr.dtype == np.int64 and arr.shape == (1, len(enc.input_ids))
    assert tok(["a b", "c d"]).input_ids == [tok.encode("a b"), tok.encode("c d")]


def test_pt_tensors_or_clear_error(tok):
    try:
        import torch
    except ImportError:
        with pytest.raises(cloze.ClozeError, match="return_tensors='pt' needs PyTorch"):
            tok("a b", return_tensors="pt")
        return
    ids = tok("a b", return_tensors="pt").input_ids
    assert isinstance(ids, torch.Tensor) and ids.dtype == torch.int64


def test_bad_input(tok, tmp_path):
    with pytest.raises(cloze.ClozeError, match="expected a string"):
        tok.encode(5)
    with pytest.raises(cloze.ClozeError, match=r"texts\[1\]"):
        tok(["a", None])
    with pytest.raises(cloze.ClozeError, match="different lengths"):
        tok(["a", "a b c d"], return_tensors="np")
    with pytest.raises(cloze.ClozeError, match="return_tensors"):
        tok("a", return_tensors="tf")
    with pytest.raises(cloze.ClozeError):
        cloze.Tokenizer.from_pretrained(str(tmp_path / "missing"))
    broken = tmp_path / "tokenizer.json"
    broken.write_text('{"model": 3}')
    with pytest.raises(cloze.ClozeError, match="tokenizer.json"):
        cloze.Tokenizer.from_pretrained(str(broken))
    assert issubclass(cloze.ClozeError, ValueError)
