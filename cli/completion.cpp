#include "completion.hpp"

#include <sstream>
#include <vector>

namespace ipcmesh::cli {
namespace {

// What the script needs of one command: its words (flags, and the values of a positional with a
// fixed set), and what to offer after each flag that takes a value.
struct CommandWords {
  std::string name;
  std::vector<std::string> words;
  std::vector<std::pair<std::string, std::string>> valued;  // flag, its compgen arguments
};

// "TEXT:{json,yaml}" -> "json yaml"; "" when the option has no fixed set of values.
std::string choices(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  const auto open = type.find('{');
  const auto close = type.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::string words = type.substr(open + 1, close - open - 1);
  for (char& c : words) {
    if (c == ',') c = ' ';
  }
  return words;
}

// Fixed values as words, file names where the value is a path, nothing for the rest.
std::string value_completion(const CLI::Option& option) {
  if (const std::string fixed = choices(option); !fixed.empty()) return "-W \"" + fixed + "\"";
  const std::string text = option.get_option_text();
  for (const char* path_word : {"FILE", "PATH", "DIR"}) {
    if (text.find(path_word) != std::string::npos) return "-f";
  }
  return {};
}

CommandWords words_of(const CLI::App& command, const std::string& name) {
  CommandWords words{name, {}, {}};
  for (const CLI::Option* option : command.get_options()) {
    if (option->get_group().empty()) continue;  // hidden: deprecated spellings
    if (!option->nonpositional()) {
      if (const std::string fixed = choices(*option); !fixed.empty()) words.words.push_back(fixed);
      continue;
    }
    std::vector<std::string> names;
    for (const auto& s : option->get_snames()) names.push_back("-" + s);
    for (const auto& l : option->get_lnames()) names.push_back("--" + l);
    for (const auto& flag : names) {
      words.words.push_back(flag);
      if (option->get_expected_min() > 0)
        words.valued.emplace_back(flag, value_completion(*option));
    }
  }
  return words;
}

// A command with subcommands of its own (`get channels`): their names, aliases and flags too.
CommandWords command_words(const CLI::App& command) {
  CommandWords words = words_of(command, command.get_name());
  for (const CLI::App* sub : command.get_subcommands([](const CLI::App*) { return true; })) {
    words.words.push_back(sub->get_name());
    for (const auto& alias : sub->get_aliases()) words.words.push_back(alias);
    CommandWords nested = words_of(*sub, sub->get_name());
    words.words.insert(words.words.end(), nested.words.begin(), nested.words.end());
    words.valued.insert(words.valued.end(), nested.valued.begin(), nested.valued.end());
  }
  return words;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : " ") + item;
  return text;
}

std::string bash_function(const CLI::App& app) {
  const std::string program = app.get_name();
  std::vector<CommandWords> commands;
  std::vector<std::string> top_words;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(command_words(*sub));
    top_words.push_back(sub->get_name());
  }
  for (const auto& word : words_of(app, program).words) top_words.push_back(word);

  std::ostringstream out;
  out << "_" << program << "() {\n"
      << "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      << "  local command=\"\" word i\n"
      << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "    word=\"${COMP_WORDS[i]}\"\n"
      << "    if [[ \"$word\" != -* ]]; then command=\"$word\"; break; fi\n"
      << "  done\n"
      << "  local flags=\"\"\n"
      << "  case \"$command\" in\n"
      << "    \"\")\n"
      << "      COMPREPLY=($(compgen -W \"" << joined(top_words) << "\" -- \"$cur\"))\n"
      << "      return 0 ;;\n";
  for (const CommandWords& command : commands) {
    out << "    " << command.name << ")\n";
    if (!command.valued.empty()) {
      out << "      case \"$prev\" in\n";
      for (const auto& [flag, compgen] : command.valued) {
        out << "        " << flag << ") ";
        if (compgen.empty()) {
          out << "COMPREPLY=(); return 0 ;;\n";
        } else {
          out << "COMPREPLY=($(compgen " << compgen << " -- \"$cur\")); return 0 ;;\n";
        }
      }
      out << "      esac\n";
    }
    out << "      flags=\"" << joined(command.words) << "\" ;;\n";
  }
  out << "    *) return 0 ;;\n"
      << "  esac\n"
      << "  COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
      << "}\n";
  return out.str();
}

}  // namespace

CLI::App* add_completion_command(CLI::App& app, CompletionArguments& arguments) {
  CLI::App* command =
      app.add_subcommand("completion", "print a shell completion script (bash or zsh)");
  command_line::apply_conventions(*command);
  command->footer(
      "Prints a completion script for SHELL. Load it in the current shell with\n"
      "  source <(ipcmeshctl completion bash)     (bash)\n"
      "  source <(ipcmeshctl completion zsh)      (zsh)\n"
      "or put it where your shell's completions live.");
  command->add_option("shell", arguments.shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}))
      ->option_text("SHELL");
  return command;
}

std::string completion_script(const CLI::App& app, const std::string& shell) {
  const std::string program = app.get_name();
  std::ostringstream out;
  if (shell == "zsh") {
    out << "#compdef " << program << "\n"
        << "# zsh completion for " << program << " (generated by `" << program
        << " completion zsh`)\n"
        << "autoload -U +X bashcompinit && bashcompinit\n";
  } else {
    out << "# bash completion for " << program << " (generated by `" << program
        << " completion bash`)\n";
  }
  out << bash_function(app) << "complete -F _" << program << " " << program << "\n";
  return out.str();
}

}  // namespace ipcmesh::cli
