// The try-it page of GET /. The markup is a raw string; the few values from
// the server (model id, labels, template, calibration) are escaped into it
// with the report's HTML escaper. The script builds the result with DOM text
// nodes only, so the API's strings never become markup either.
#include "server/try_page.h"

#include <string_view>
#include <utility>
#include <vector>

#include "report/html.h"

namespace cloze::server {

namespace {

constexpr const char* kPage = R"html(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>cloze · @MODEL@</title>
<style>
body{font:15px/1.45 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#111;max-width:760px;margin:24px auto;padding:0 16px}
h1{font-size:20px;margin:0 0 2px}.note{color:#555;font-size:13px}
label{display:block;font-weight:600;margin:14px 0 4px}
textarea,input{width:100%;box-sizing:border-box;font:inherit;padding:6px 8px;border:1px solid #bbb;border-radius:4px}
textarea#template{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}
button{margin-top:12px;font:inherit;font-weight:600;padding:7px 18px;border:0;border-radius:4px;background:#2f62a7;color:#fff;cursor:pointer}
button:disabled{background:#999}
#status{margin-left:10px;color:#555}
#result{margin-top:20px}.row{display:grid;grid-template-columns:150px 1fr 64px;gap:10px;align-items:center;margin:5px 0}
.name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.track{background:#eef1f5;border-radius:3px;height:20px}
.fill{background:#4a7fc1;height:20px;border-radius:3px}.row.top .fill{background:#2f62a7}.row.top .name{font-weight:700}
.val{text-align:right;font-variant-numeric:tabular-nums}.mass .fill{background:#e07b20}
#error{margin-top:16px;padding:8px 10px;border-radius:4px;background:#fdecea;color:#8a1c13;white-space:pre-wrap}
</style></head>
<body>
<h1>cloze</h1>
<div class="note">model <b id="model">@MODEL@</b> · calibration <span id="calibration">@CALIBRATION@</span> · @STATUS@</div>
<label for="text">Text</label>
<textarea id="text" rows="5" placeholder="A review, a question, any text to classify"></textarea>
<label for="labels">Labels <span class="note">(comma-separated)</span></label>
<input id="labels" value="@LABELS@"/>
<label for="template">Template <span class="note">({text} is where the text goes)</span></label>
<textarea id="template" rows="4">
@TEMPLATE@</textarea>
<button id="go" type="button">Classify</button><span id="status"></span>
<div id="error" hidden></div>
<div id="result" hidden></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const initial = { labels: $("labels").value, template: $("template").value };

function bar(name, p, cls) {
  const row = document.createElement("div");
  row.className = "row " + cls;
  const n = document.createElement("div"); n.className = "name"; n.textContent = name; n.title = name;
  const track = document.createElement("div"); track.className = "track";
  const fill = document.createElement("div"); fill.className = "fill";
  fill.style.width = (Math.max(0, Math.min(1, p)) * 100).toFixed(2) + "%";
  track.appendChild(fill);
  const v = document.createElement("div"); v.className = "val";
  v.textContent = p > 0 && p < 0.001 ? p.toExponential(2) : p.toFixed(4);
  row.append(n, track, v);
  row.dataset.label = name;
  row.dataset.prob = String(p);
  return row;
}

function showError(message) {
  $("result").hidden = true;
  $("error").textContent = message;
  $("error").hidden = false;
}

function draw(r) {
  const out = $("result");
  out.replaceChildren();
  const probs = Object.entries(r.probs).sort((a, b) => b[1] - a[1]);
  for (const [name, p] of probs) out.appendChild(bar(name, p, name === r.label ? "top prob" : "prob"));
  if (typeof r.label_mass === "number") {
    const m = bar("label_mass", r.label_mass, "mass");
    m.title = "probability the model answers with one of the labels at all";
    out.appendChild(m);
    const note = document.createElement("div");
    note.className = "note";
    note.textContent = "label_mass: the probability the model gives to answering with any of the labels at all.";
    out.appendChild(note);
  }
  $("error").hidden = true;
  out.hidden = false;
}

async function classify() {
  const body = { texts: [$("text").value] };
  if ($("labels").value !== initial.labels)
    body.labels = $("labels").value.split(",").map((s) => s.trim()).filter((s) => s.length);
  if ($("template").value !== initial.template) body.template = $("template").value;
  $("go").disabled = true;
  $("status").textContent = "classifying…";
  try {
    const res = await fetch("/v1/classify", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      showError(data && data.error && data.error.message ? data.error.message : "HTTP " + res.status);
    } else if (data.results[0].error) {
      showError(data.results[0].error);
    } else {
      draw(data.results[0]);
    }
  } catch (e) {
    showError("request failed: " + e.message);
  } finally {
    $("go").disabled = false;
    $("status").textContent = "";
  }
}

$("go").addEventListener("click", classify);
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify(); });
</script>
</body></html>
)html";

// One pass over the page: a value that happens to contain "@KEY@" is never
// expanded again.
std::string fill(std::string_view page, const std::vector<std::pair<std::string_view, std::string>>& values) {
  std::string out;
  out.reserve(page.size() + 1024);
  for (size_t i = 0; i < page.size();) {
    bool hit = false;
    if (page[i] == '@')
      for (const auto& [key, value] : values)
        if (page.substr(i, key.size()) == key) {
          out += value;
          i += key.size();
          hit = true;
          break;
        }
    if (!hit) out += page[i++];
  }
  return out;
}

const char* calibration_name(Calibration c) {
  switch (c) {
    case Calibration::Contextual: return "contextual";
    case Calibration::Pmi: return "pmi";
    default: return "none";
  }
}

}  // namespace

std::string try_page_html(const ServerOptions& o, bool ready) {
  std::string labels;
  if (ready)
    for (const auto& l : o.classifier.labels) labels += (labels.empty() ? "" : ",") + l;
  return fill(kPage, {{"@MODEL@", report::escape_html(o.model_id)},
                       {"@CALIBRATION@", ready ? calibration_name(o.classifier.calibration) : ""},
                       {"@STATUS@", ready ? "ready" : "the model is still loading; reload shortly"},
                       {"@LABELS@", report::escape_html(labels)},
                       {"@TEMPLATE@", ready ? report::escape_html(o.classifier.template_text) : ""}});
}

}  // namespace cloze::server
