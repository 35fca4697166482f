#pragma once
// The result object of one classified text, as `cloze classify` prints it and
// `POST /v1/classify` returns it; one function so both give identical objects.
#include "cloze/classify.h"
#include "cloze/records.h"

namespace cloze {

// {text, [id], label, probs, logits, label_mass} or, for a text that could not
// be scored, {text, [id], label: null, error}. Invalid UTF-8 text is shown as "".
Row result_row(const Record& rec, const Classification& c, const Classifier& clf, bool with_id);

}  // namespace cloze
