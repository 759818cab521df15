#include "ipcmeshctl.hpp"

#include <iostream>

#include "commands.hpp"
#include "completion.hpp"
#include "ipcmesh/command_line.hpp"

#ifdef IPCMESH_HAVE_BENCH
#include "ipcmesh/bench/bench.hpp"
#endif
#ifdef IPCMESH_HAVE_INJECT
#include "inject_command.hpp"
#endif

namespace ipcmesh::cli {

int run_ipcmeshctl(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                   std::ostream& err) {
  CLI::App app("ipcmeshctl: use and inspect ipcmesh channels", "ipcmeshctl");
  command_line::apply_conventions(app);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ipcmeshctl ") + IPCMESH_VERSION,
                       "print the version and exit");
  app.footer(
      "Run \"ipcmeshctl COMMAND --help\" for a command's flags.\n"
      "Exit codes: 0 ok, 1 failure, 2 usage.");

  PubArguments pub;
  SubArguments sub;
  StatArguments stat;
  CLI::App* pub_command = add_pub_command(app, pub);
  CLI::App* sub_command = add_sub_command(app, sub);
  CLI::App* stat_command = add_stat_command(app, stat);
#ifdef IPCMESH_HAVE_BENCH
  bench::BenchFlags bench_flags;
  CLI::App* bench_command =
      app.add_subcommand("bench", "the side-by-side transport benchmark (-o json for the report)");
  bench::define_bench_flags(*bench_command, bench_flags);
  bench_command->footer(std::string(bench::kBenchDescription) + "\n\n" +
                        bench_command->get_footer());
#endif
#ifdef IPCMESH_HAVE_INJECT
  InjectArguments inject;
  CLI::App* inject_command = add_inject_command(app, inject);
#endif
  CLI::App* version_command = app.add_subcommand("version", "print the version");
  command_line::apply_conventions(*version_command);
  version_command->footer("");
  CompletionArguments completion;
  CLI::App* completion_command = add_completion_command(app, completion);

  const command_line::ParseOutcome parsed = command_line::parse(app, args);
  if (!parsed.run) {
    (parsed.exit_code == command_line::kExitOk ? out : err) << parsed.output;
    return parsed.exit_code;
  }
  if (pub_command->parsed()) return run_pub(pub);
  if (sub_command->parsed()) return run_sub(sub);
  if (stat_command->parsed()) return run_stat(stat);
#ifdef IPCMESH_HAVE_BENCH
  if (bench_command->parsed()) {
    try {
      return bench::run_benchmark(bench::to_bench_options(bench_flags), "ipcmeshctl bench");
    } catch (const std::invalid_argument& error) {
      err << command_line::usage_error("ipcmeshctl bench", error.what());
      return command_line::kExitUsage;
    }
  }
#endif
#ifdef IPCMESH_HAVE_INJECT
  if (inject_command->parsed()) return run_inject(std::move(inject), in, out, err);
#endif
  if (version_command->parsed()) {
    out << "ipcmeshctl " << IPCMESH_VERSION << "\n";
    return command_line::kExitOk;
  }
  if (completion_command->parsed()) {
    out << completion_script(app, completion.shell);
    return command_line::kExitOk;
  }
  err << "ipcmeshctl: no command ran\n";  // require_subcommand(1) makes this unreachable
  return command_line::kExitUsage;
}

}  // namespace ipcmesh::cli
