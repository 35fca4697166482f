#pragma once
// Shared declarations of the _cloze extension module: one bind_* per file.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <span>
#include <string>

namespace cloze::py {

namespace pyb = pybind11;

// Token ids arrive as a 1-D C-contiguous int32 array (the Python layer
// converts lists and int64 tensors and checks the range).
using IdArray = pyb::array_t<int32_t, pyb::array::c_style | pyb::array::forcecast>;
std::span<const int32_t> ids_of(const IdArray& a);

// UTF-8 bytes to str, invalid sequences as U+FFFD (as HF decode does).
pyb::str utf8_to_str(const std::string& s);

void bind_tokenizer(pyb::module_& m);
void bind_model(pyb::module_& m);
void bind_classifier(pyb::module_& m);
void bind_data(pyb::module_& m);

}  // namespace cloze::py
