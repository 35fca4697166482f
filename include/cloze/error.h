#pragma once
// Errors cross module boundaries as exceptions and are reported once, at the
// CLI / server / API boundary, as a single line naming the thing that is wrong.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace cloze {

// What an error is about, as data: the boundary words it for its audience
// (the CLI as a flag, the server as the request's JSON `param`), so library
// messages never name CLI flags or JSON fields themselves.
struct Subject {
  enum class Kind : uint8_t {
    None,
    Option,  // a library option the caller set: ClassifierOptions / GenerateOptions member name
    Field,   // a field of a file the user gave (config.json's rope_scaling, ...)
    File,    // a whole file or directory
    Tensor,  // a checkpoint tensor
    Input,   // one input (text / prompt) of a batch: `row`
  };
  Kind kind = Kind::None;
  std::string name;           // option / field / file / tensor name
  std::optional<size_t> row;  // Input: which one, 0-based

  static Subject option(std::string n) { return {Kind::Option, std::move(n), {}}; }
  static Subject field(std::string n) { return {Kind::Field, std::move(n), {}}; }
  static Subject file(std::string n) { return {Kind::File, std::move(n), {}}; }
  static Subject tensor(std::string n) { return {Kind::Tensor, std::move(n), {}}; }
  static Subject input(size_t r) { return {Kind::Input, {}, r}; }
};

// A problem with input the user gave us (a file, an option, a request field).
// what() must name the thing (file, tensor, field, row), what was expected,
// what was found and, where useful, what to do; subject() carries the thing.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  Error(const std::string& what, Subject subject) : std::runtime_error(what), subject_(std::move(subject)) {}
  const Subject& subject() const { return subject_; }

 private:
  Subject subject_;
};

}  // namespace cloze
