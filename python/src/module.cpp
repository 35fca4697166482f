// cloze._cloze: the extension module. Every cloze::Error becomes
// cloze.ClozeError (a ValueError) carrying the same one-line message.
#include "bindings.h"

#include "cloze/error.h"

namespace cloze::py {

std::span<const int32_t> ids_of(const IdArray& a) {
  if (a.ndim() != 1) throw Error("token ids: expected a 1-D sequence, got " + std::to_string(a.ndim()) + " dimensions");
  return {a.data(), size_t(a.shape(0))};
}

pyb::str utf8_to_str(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), Py_ssize_t(s.size()), "replace");
  if (!o) throw pyb::error_already_set();
  return pyb::reinterpret_steal<pyb::str>(o);
}

}  // namespace cloze::py

PYBIND11_MODULE(_cloze, m) {
  namespace py = cloze::py;
  m.doc() = "cloze C++ engine (use the `cloze` package, not this module)";
  auto err = pybind11::register_exception<cloze::Error>(m, "ClozeError", PyExc_ValueError);
  err.attr("__module__") = "cloze";
  err.attr("__doc__") = "A problem with input given to cloze (a file, a model, an argument); a ValueError.";
  py::bind_tokenizer(m);
  py::bind_model(m);
  py::bind_classifier(m);
  py::bind_data(m);
}
