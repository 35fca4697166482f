// ChatTemplate: parse once, render many times; the globals transformers'
// environment defines (range, namespace, dict, raise_exception,
// strftime_now); JSON variables -> template values; errors -> one type.
#include <ctime>

#include "chat/ast.h"
#include "chat/interpreter.h"
#include "chat/lexer.h"
#include "chat/parser.h"
#include "chat/render_error.h"
#include "chat/unicode.h"
#include "cloze/chat.h"

namespace cloze {

struct ChatTemplate::Impl {
  std::string original;
  chat::Lexed lexed;
  chat::Body body;
};

namespace {

using chat::CallArgs;
using chat::Dict;
using chat::Interpreter;
using chat::List;
using chat::RenderError;
using chat::Value;

Value from_json(const nlohmann::ordered_json& j, int depth = 0) {
  if (depth > 200) throw Error("chat template variables nest deeper than 200 levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      for (const auto& x : j) items.push_back(from_json(x, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      for (const auto& [k, x] : j.items()) d.set(k, from_json(x, depth + 1));
      return Value::dict(std::move(d));
    }
    default: throw Error("chat template variables: unsupported JSON value");
  }
}

void add_globals(Dict& g) {
  g.set("range", Value::callable("range", [](Interpreter&, CallArgs& a) {
          a.check(3, {});
          for (const auto& x : a.positional)
            if (x.kind() != Value::Kind::Int && x.kind() != Value::Kind::Bool)
              throw RenderError("'" + x.type_name() + "' object cannot be interpreted as an integer");
          int64_t start = 0, stop = 0, step = 1;
          if (a.positional.size() == 1) stop = a.positional[0].as_int();
          else if (a.positional.size() >= 2) {
            start = a.positional[0].as_int();
            stop = a.positional[1].as_int();
            if (a.positional.size() == 3) step = a.positional[2].as_int();
          } else throw RenderError("range expected at least 1 argument, got 0");
          if (step == 0) throw RenderError("range() arg 3 must not be zero");
          List out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (out.size() >= 100000)
              throw RenderError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            out.push_back(Value(i));
          }
          return Value::list(std::move(out));
        }));
  auto make_dict = [](CallArgs& a, const char* what) {
    Dict d;
    for (const auto& x : a.positional) {
      if (!x.is_dict()) throw RenderError(std::string(what) + "() takes a mapping and keyword arguments");
      for (const auto& [k, v] : x.dict().items) d.set(k, v);
    }
    for (const auto& [k, v] : a.keyword) d.set(k, v);
    return d;
  };
  g.set("namespace", Value::callable("namespace", [make_dict](Interpreter&, CallArgs& a) {
          return Value::name_space(make_dict(a, "namespace"));
        }));
  g.set("dict", Value::callable("dict", [make_dict](Interpreter&, CallArgs& a) {
          return Value::dict(make_dict(a, "dict"));
        }));
  g.set("raise_exception", Value::callable("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
          const Value* m = a.get(0, "message");
          throw chat::RaisedError(m ? chat::to_str(*m) : "");
        }));
  g.set("strftime_now", Value::callable("strftime_now", [](Interpreter& in, CallArgs& a) {
          const Value* f = a.get(0, "format");
          if (!f || !f->is_string()) throw RenderError("strftime_now() needs a format string");
          std::time_t t = in.now();
          std::tm tm{};
          localtime_r(&t, &tm);
          char buf[512];
          size_t n = std::strftime(buf, sizeof buf, f->str().c_str(), &tm);
          if (n == 0 && !f->str().empty()) throw RenderError("strftime_now(): format too long or empty result");
          return Value(std::string(buf, n));
        }));
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source) {
  if (!chat::utf8_valid(source)) throw ChatTemplateError("chat template is not valid UTF-8", "", false);
  auto impl = std::make_shared<Impl>();
  impl->original = std::string(source);
  try {
    impl->lexed = chat::lex(source);
    impl->body = chat::parse(impl->lexed);
  } catch (const chat::SyntaxError& e) {
    std::string msg = e.what();
    throw ChatTemplateError("chat template syntax error at " + chat::position(impl->lexed.source.empty() ? std::string(source) : impl->lexed.source, e.offset()) + ": " + msg, msg, false);
  }
  impl_ = std::move(impl);
}

ChatTemplate::~ChatTemplate() = default;

const std::string& ChatTemplate::source() const { return impl_->original; }

std::string ChatTemplate::render(const nlohmann::ordered_json& variables, const ChatRenderOptions& options) const {
  if (!variables.is_object()) throw Error("chat template variables must be a JSON object");
  chat::Limits limits;
  limits.max_output_bytes = options.max_output_bytes;
  limits.max_steps = options.max_steps;
  Interpreter in(impl_->lexed.source, limits, options.now);
  try {
    Dict vars;
    add_globals(vars);
    for (const auto& [k, v] : variables.items()) vars.set(k, from_json(v));
    return in.render(impl_->body, vars);
  } catch (const chat::RaisedError& e) {
    throw ChatTemplateError(std::string("chat template raised an error: ") + e.what(), e.what(), true);
  } catch (const RenderError& e) {
    throw ChatTemplateError(std::string("chat template error at ") + e.what(), e.what(), false);
  } catch (const chat::LimitError& e) {
    throw ChatTemplateError(e.what(), e.what(), false);
  }
}

std::string apply_chat_template(const ChatTemplate& tmpl, const ModelChatTemplate& tokens, const ChatInput& input,
                                const ChatRenderOptions& options) {
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  vars["messages"] = input.messages;
  vars["tools"] = input.tools;
  vars["documents"] = input.documents;
  vars["add_generation_prompt"] = input.add_generation_prompt;
  if (tokens.bos_token) vars["bos_token"] = *tokens.bos_token;
  if (tokens.eos_token) vars["eos_token"] = *tokens.eos_token;
  if (!input.kwargs.is_null()) {
    if (!input.kwargs.is_object()) throw Error("chat template kwargs must be a JSON object");
    for (const auto& [k, v] : input.kwargs.items()) vars[k] = v;
  }
  return tmpl.render(vars, options);
}

}  // namespace cloze
