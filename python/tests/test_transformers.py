"""The seed notebook with one changed line: the import."""
import json
import textwrap

import numpy as np
import pytest

import cloze
from conftest import run_cli

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

# The notebook's cells (its score() as written for transformers). Only the
# import line differs; TENSORS is "pt" in the notebook, and "np" where torch
# is not installed.
NOTEBOOK = textwrap.dedent('''
    from cloze.transformers import AutoTokenizer, AutoModelForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL)

    def score(review):
        prompt = template.replace("{text}", review)
        input_ids = tokenizer(prompt, return_tensors=TENSORS).input_ids
        logits = model(input_ids).logits[0, -1]
        positive = tokenizer.encode(" positive")[0]
        negative = tokenizer.encode(" negative")[0]
        return "Positive" if logits[positive] > logits[negative] else "Negative"

    decisions = [score(review) for review in reviews]
''')


def run_notebook(model_dir, seed_cases, tensors):
    env = {"MODEL": model_dir, "template": seed_cases["template"], "reviews": seed_cases["reviews"],
           "TENSORS": tensors}
    exec(NOTEBOOK, env)
    return env


@pytest.mark.parametrize("tensors", ["np", pytest.param("pt", marks=pytest.mark.skipif(
    not HAVE_TORCH, reason="torch not installed (the error path is tested below)"))])
def test_seed_notebook_decisions_match_cli(cloze_bin, qwen2_full, seed_cases, tensors):
    env = run_notebook(qwen2_full, seed_cases, tensors)
    cli = [json.loads(l) for l in run_cli(cloze_bin, "classify", "--model", qwen2_full, "--template",
                                          seed_cases["template"], *seed_cases["reviews"]).splitlines()]
    assert env["decisions"] == [r["label"].capitalize() for r in cli]
    # and model(input_ids).logits[0, -1] is `cloze logits`, bit for bit
    tok, model = env["tokenizer"], env["model"]
    for review in seed_cases["reviews"]:
        prompt = seed_cases["template"].replace("{text}", review)
        ids = tok(prompt, return_tensors=tensors).input_ids
        ours = np.asarray(model(ids).logits[0, -1])
        cli_row = json.loads(run_cli(cloze_bin, "logits", "--model", qwen2_full, "--text", prompt))["logits"][0]
        assert ours.dtype == np.float32 and np.array_equal(ours, np.asarray(cli_row, dtype=np.float32))


@pytest.mark.skipif(HAVE_TORCH, reason="torch is installed")
def test_pt_without_torch_is_a_clear_error(qwen2_full, seed_cases):
    with pytest.raises(cloze.ClozeError, match="needs PyTorch"):
        run_notebook(qwen2_full, seed_cases, "pt")


def test_logits_shape_and_numpy_in_out(qwen2_full):
    from cloze.transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(qwen2_full)
    model = AutoModelForCausalLM.from_pretrained(qwen2_full).eval().to("cpu")
    ids = tok(["one two", "three four"], return_tensors="np").input_ids
    out = model(input_ids=ids, attention_mask=np.ones_like(ids)).logits
    assert out.shape == (2, ids.shape[1], 151936) and out.dtype == np.float32
    assert np.array_equal(out[1], cloze.Model.from_pretrained(qwen2_full).logits(ids[1], all_positions=True))
    assert model.config.vocab_size == 151936
    assert np.array_equal(model(ids)[0], out) and np.array_equal(model(ids)["logits"], out)
    with pytest.raises(cloze.ClozeError, match="labels= is not supported"):
        model(ids, labels=ids)
    with pytest.raises(cloze.ClozeError, match="padding"):
        model(ids, attention_mask=np.array([[1, 1], [1, 0]]))


def test_generate_and_set_seed(qwen2_full):
    from cloze.transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    tok = AutoTokenizer.from_pretrained(qwen2_full)
    model = AutoModelForCausalLM.from_pretrained(qwen2_full)
    ids = tok("Once upon a time", return_tensors="np").input_ids
    greedy = model.generate(ids, max_new_tokens=8)
    assert greedy.shape[0] == 1 and np.array_equal(greedy[0, :ids.shape[1]], ids[0])
    plain = cloze.Model.from_pretrained(qwen2_full).generate(ids[0], max_tokens=8)
    assert greedy[0, ids.shape[1]:].tolist() == plain.ids.tolist()
    set_seed(42)
    a = model.generate(ids, max_new_tokens=8, do_sample=True, temperature=1.5)
    b = model.generate(ids, max_new_tokens=8, do_sample=True, temperature=1.5)
    set_seed(42)
    assert np.array_equal(model.generate(ids, max_new_tokens=8, do_sample=True, temperature=1.5), a)
    assert np.array_equal(model.generate(ids, max_new_tokens=8, do_sample=True, temperature=1.5), b)
    assert isinstance(tok.decode(a[0], skip_special_tokens=True), str)
    assert model.generate(ids, max_length=ids.shape[1] + 3).shape[1] <= ids.shape[1] + 3
