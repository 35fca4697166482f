// Classification prompts through a chat template: [system] + user message,
// generation prompt, answer prefix. Every text's prompt is rendered in full
// (a template may trim or otherwise touch the content), so the ids scored are
// exactly those of tokenizing apply_chat_template's output.
#include "cloze/chat.h"

namespace cloze {

std::string render_chat_prompt(const ChatTemplate& tmpl, const ModelChatTemplate& tokens,
                               const PromptTemplate& user_template, const ChatPromptOptions& chat,
                               const std::string& text) {
  ChatInput in;
  in.add_generation_prompt = true;
  if (chat.system) in.messages.push_back({{"role", "system"}, {"content", *chat.system}});
  in.messages.push_back({{"role", "user"}, {"content", user_template.fill(text)}});
  return apply_chat_template(tmpl, tokens, in, chat.render) + chat.answer_prefix;
}

void use_chat_prompt(ClassifierOptions& options, const ModelChatTemplate& tokens, const ChatPromptOptions& chat) {
  auto tmpl = std::make_shared<const ChatTemplate>(tokens.source);
  auto user = std::make_shared<const PromptTemplate>(options.template_text);
  // The chat with "{text}" where the text goes: its part before {text} is
  // the prefix every prompt shares.
  std::string with_placeholder = render_chat_prompt(*tmpl, tokens, *user, chat, "{text}");
  if (with_placeholder.find("{text}") == std::string::npos)
    throw Error("chat template " + tokens.origin + " drops the user message's content; cannot classify through it");
  options.template_text = with_placeholder;
  options.render_prompt = [tmpl, user, tokens, chat](const std::string& text) {
    return render_chat_prompt(*tmpl, tokens, *user, chat, text);
  };
}

}  // namespace cloze
