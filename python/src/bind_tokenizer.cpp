// cloze._cloze.Tokenizer: HF tokenizer.json, the same ids `tokenizers` gives.
#include <memory>

#include "bindings.h"
#include "cloze/tokenizer.h"

namespace cloze::py {

void bind_tokenizer(pyb::module_& m) {
  pyb::class_<Tokenizer, std::shared_ptr<Tokenizer>>(m, "Tokenizer")
      .def_static(
          "from_file",
          [](const std::string& path) {
            pyb::gil_scoped_release nogil;
            return std::make_shared<Tokenizer>(Tokenizer::from_file(path));
          },
          pyb::arg("tokenizer_json"))
      .def(
          "encode",
          [](const Tokenizer& t, const std::string& text, bool add_special_tokens, bool special) {
            std::vector<int32_t> ids;
            {
              pyb::gil_scoped_release nogil;
              ids = t.encode(text, {.special = special, .add_special_tokens = add_special_tokens});
            }
            return ids;
          },
          pyb::arg("text"), pyb::arg("add_special_tokens") = true, pyb::arg("special") = true)
      .def(
          "encode_batch",
          [](const Tokenizer& t, const std::vector<std::string>& texts, bool add_special_tokens, bool special) {
            std::vector<std::vector<int32_t>> out(texts.size());
            {
              pyb::gil_scoped_release nogil;
              for (size_t i = 0; i < texts.size(); ++i)
                out[i] = t.encode(texts[i], {.special = special, .add_special_tokens = add_special_tokens});
            }
            return out;
          },
          pyb::arg("texts"), pyb::arg("add_special_tokens") = true, pyb::arg("special") = true)
      .def(
          "decode",
          [](const Tokenizer& t, const IdArray& ids, bool skip_special) {
            return utf8_to_str(t.decode(ids_of(ids), skip_special));
          },
          pyb::arg("ids"), pyb::arg("skip_special") = false)
      .def("token_to_id", &Tokenizer::token_to_id, pyb::arg("token"))
      .def("id_to_token", &Tokenizer::id_to_token, pyb::arg("id"))
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("eos_id", &Tokenizer::eos_id);
}

}  // namespace cloze::py
