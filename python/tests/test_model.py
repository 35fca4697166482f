import json

import numpy as np
import pytest

import cloze
from conftest import GOLDEN, run_cli


def test_logits_match_transformers_golden():
    # expected.json: float32 logits from transformers for the same weights
    for name in ("qwen2-tied-bf16", "llama-tied-bf16-mha", "qwen3-tied-bf16-hd32"):
        m = cloze.Model.from_pretrained(str(GOLDEN / name), threads=1)
        worst = 0.0
        for seq in json.loads((GOLDEN / name / "expected.json").read_text())["sequences"]:
            want = np.asarray(seq["logits"], dtype=np.float32)
            got = m.logits(seq["ids"], all_positions=True)
            assert got.dtype == np.float32 and got.shape == want.shape
            worst = max(worst, float(np.abs(got - want).max()))
            assert np.array_equal(m.logits(seq["ids"]), got[-1])
        print(f"{name}: max |cloze - transformers| = {worst:.3g}")
        assert worst < 1e-4


def test_logits_equal_cli_bit_for_bit(cloze_bin, qwen2_full):
    m = cloze.Model.from_pretrained(qwen2_full, threads=2)
    ids = [9707, 11, 1879, 0, 151643, 6785]
    cli = json.loads(run_cli(cloze_bin, "logits", "--model", qwen2_full, "--ids", ",".join(map(str, ids))))
    assert np.array_equal(m.logits(ids), np.asarray(cli["logits"][0], dtype=np.float32))


def test_generate_equals_cli(cloze_bin, qwen2_full):
    m = cloze.Model.from_pretrained(qwen2_full)
    ids = [9707, 11, 1879]
    for extra, kw in (([], {}), (["--temperature", "0.8", "--top-k", "40", "--seed", "7"],
                                 dict(temperature=0.8, top_k=40, seed=7))):
        cli = json.loads(run_cli(cloze_bin, "generate", "--model", qwen2_full, "--ids", "9707,11,1879",
                                 "--max-tokens", "12", "--json", *extra))
        g = m.generate(ids, max_tokens=12, **kw)
        assert g.ids.tolist() == cli["ids"] and g.text == cli["text"] and g.finish_reason == cli["finish_reason"]
    assert m.generate("Hello", max_tokens=3).prompt_tokens == 1


def test_bad_input(tmp_path):
    m = cloze.Model.from_pretrained(str(GOLDEN / "qwen2-tied-bf16"), threads=1)
    with pytest.raises(cloze.ClozeError, match="out of range"):
        m.logits([1, 512])
    with pytest.raises(cloze.ClozeError, match="no token ids"):
        m.logits([])
    with pytest.raises(cloze.ClozeError, match="1-D"):
        m.logits([[1, 2], [3, 4]])
    with pytest.raises(cloze.ClozeError, match="not a valid id"):
        m.logits([-1])
    with pytest.raises(cloze.ClozeError, match="integer"):
        m.logits([1.5])
    with pytest.raises(cloze.ClozeError, match="no tokenizer.json"):
        m.generate("text needs a tokenizer")
    with pytest.raises(cloze.ClozeError, match="temperature"):
        m.generate([1, 2], temperature=-1)
    with pytest.raises(cloze.ClozeError, match="max_tokens"):
        m.generate([1, 2], max_tokens=-1)
    with pytest.raises(cloze.ClozeError, match="seed"):
        m.generate([1, 2], seed=-5)
    with pytest.raises(cloze.ClozeError):
        cloze.Model.from_pretrained(str(tmp_path / "no-such-model"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(cloze.ClozeError, match="config.json"):
        cloze.Model.from_pretrained(str(tmp_path))
