#pragma once
// GET /: a page to try the classifier in a browser. A text box, the labels
// and template in effect (editable), and a button that calls /v1/classify and
// draws the answer as probability bars with label_mass. One self-contained
// HTML file: inline CSS and script, nothing fetched from anywhere else.
#include <string>

#include "cloze/server.h"

namespace cloze::server {

// The page. `ready`: the model is attached, so options.classifier holds the
// defaults in effect; before that the page says the model is loading.
// Every value from the options is HTML-escaped.
std::string try_page_html(const ServerOptions& options, bool ready);

// Content-Security-Policy of the page: its own inline code, requests to this
// server only.
inline constexpr const char* kTryPageCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'";

}  // namespace cloze::server
