// The command-line conventions of every ipcmesh binary (issue 14), on top of CLI11:
//   -h/--help prints the usage on stdout and exits 0; --version likewise where there is one;
//   --flag=value and --flag value both work; switches take no value (--switch=false does);
//   -o/--output picks the output format where there is output; -n/--namespace the namespace;
//   a usage error exits 2 with one line on stderr that names the bad argument.
// Programs build a CLI::App, call apply_conventions() on it (and on each subcommand), then parse().
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace ipcmesh::command_line {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// What parse() decided: run the program, or exit with exit_code after printing output (on stdout
// when exit_code is 0, else on stderr).
struct ParseOutcome {
  bool run = false;
  int exit_code = kExitOk;
  std::string output;
};

// "ipcmeshctl stat": the program and the subcommands the command line selected, for messages.
inline std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* current = &app;
  for (;;) {
    const auto selected = current->get_subcommands();
    if (selected.empty()) break;
    current = selected.front();
    path += " " + current->get_name();
  }
  return path;
}

// One line: "ipcmeshctl stat: --count: 1 required INT missing (see --help)". CLI11's own
// messages name the argument; newlines (a list of unexpected arguments) become spaces.
inline std::string usage_error(const std::string& command, std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return command + ": " + message + " (see " + command + " --help)\n";
}

// The same help flag and error line for an app or a subcommand. Subcommands added afterwards
// inherit the help flag; call this on each one anyway so the order of construction does not matter.
inline void apply_conventions(CLI::App& app) {
  app.set_help_flag("-h,--help", "print this help and exit");
  app.allow_windows_style_options(false);
  app.positionals_at_end(false);
  // For callers that use CLI::App::exit(): the same one line as parse() prints.
  app.failure_message([](const CLI::App* failed, const CLI::Error& error) {
    return usage_error(command_path(*failed), error.what());
  });
}

// Parses args (without the program name). Help and version win over any other argument, even a
// bad one; the help text is the selected subcommand's.
inline ParseOutcome parse(CLI::App& app, const std::vector<std::string>& arguments) {
  // CLI11 consumes the vector from its back. "--flag=" is the empty value, as `--flag ""` is
  // (CLI11 alone would call the value missing): `--namespace-label=` turns a check off.
  std::vector<std::string> args;
  for (auto it = arguments.rbegin(); it != arguments.rend(); ++it) {
    if (it->size() > 3 && it->starts_with("--") && it->back() == '=' &&
        it->find('=') == it->size() - 1) {
      args.emplace_back();
      args.push_back(it->substr(0, it->size() - 1));
    } else {
      args.push_back(*it);
    }
  }
  try {
    app.parse(args);
    return {true, kExitOk, ""};
  } catch (const CLI::CallForHelp&) {
    return {false, kExitOk, app.help()};
  } catch (const CLI::CallForAllHelp&) {
    return {false, kExitOk, app.help("", CLI::AppFormatMode::All)};
  } catch (const CLI::CallForVersion& version) {
    return {false, kExitOk, std::string(version.what()) + "\n"};
  } catch (const CLI::RequiredError& error) {
    // CLI11 checks what is required before what is unexpected: `pub --chanel x` would say
    // "--channel is required". The argument that is wrong is the better message.
    const std::vector<std::string> unexpected = app.remaining(true);
    const std::string message =
        unexpected.empty() ? std::string(error.what())
                           : "The following argument was not expected: " + unexpected.front();
    return {false, kExitUsage, usage_error(command_path(app), message)};
  } catch (const CLI::ParseError& error) {
    return {false, kExitUsage, usage_error(command_path(app), error.what())};
  }
}

inline ParseOutcome parse(CLI::App& app, int argc, const char* const* argv) {
  return parse(app, std::vector<std::string>(argv + std::min(argc, 1), argv + argc));
}

// -o/--output FORMAT, one of `formats`; `format` keeps its value when the flag is not given.
inline CLI::Option* add_output_option(CLI::App& app, std::string& format,
                                      const std::vector<std::string>& formats) {
  std::string names;
  for (const auto& name : formats) names += (names.empty() ? "" : "|") + name;
  return app.add_option("-o,--output", format, "output format: " + names)
      ->check(CLI::IsMember(formats))
      ->option_text("FORMAT")
      ->take_last();
}

// A deprecated spelling that still works but is not shown in --help: a switch that sets
// `target` to `value` (--json for -o json).
inline CLI::Option* add_hidden_switch_alias(CLI::App& app, const std::string& name,
                                            std::string& target, const std::string& value) {
  return app
      .add_flag_callback(
          name, [&target, value] { target = value; }, "deprecated")
      ->group("");
}

}  // namespace ipcmesh::command_line
