#include "ipcmeshctl.hpp"

#include <functional>
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
#ifdef IPCMESH_HAVE_CLUSTER
#include "cluster_commands.hpp"
#endif

namespace ipcmesh::cli {
namespace {

// Every subcommand's arguments and its CLI11 subcommand, filled while the command line is parsed.
struct Commands {
  PubArguments pub;
  SubArguments sub;
  StatArguments stat;
  CLI::App* pub_command = nullptr;
  CLI::App* sub_command = nullptr;
  CLI::App* stat_command = nullptr;
#ifdef IPCMESH_HAVE_BENCH
  bench::BenchFlags bench;
  CLI::App* bench_command = nullptr;
#endif
#ifdef IPCMESH_HAVE_INJECT
  InjectArguments inject;
  CLI::App* inject_command = nullptr;
#endif
#ifdef IPCMESH_HAVE_CLUSTER
  GetArguments get;
  DescribeArguments describe;
  WhyArguments why;
  VersionArguments version;
  CLI::App* get_command = nullptr;
  CLI::App* describe_command = nullptr;
  CLI::App* why_command = nullptr;
#endif
  CLI::App* version_command = nullptr;
  CompletionArguments completion;
  CLI::App* completion_command = nullptr;
};

void define_commands(CLI::App& app, Commands& c) {
  c.pub_command = add_pub_command(app, c.pub);
  c.sub_command = add_sub_command(app, c.sub);
  c.stat_command = add_stat_command(app, c.stat);
#ifdef IPCMESH_HAVE_BENCH
  c.bench_command =
      app.add_subcommand("bench", "the side-by-side transport benchmark (-o json for the report)");
  bench::define_bench_flags(*c.bench_command, c.bench);
  c.bench_command->footer(std::string(bench::kBenchDescription) + "\n\n" +
                          c.bench_command->get_footer());
#endif
#ifdef IPCMESH_HAVE_INJECT
  c.inject_command = add_inject_command(app, c.inject);
#endif
#ifdef IPCMESH_HAVE_CLUSTER
  c.get_command = add_get_command(app, c.get);
  c.describe_command = add_describe_command(app, c.describe);
  c.why_command = add_why_command(app, c.why);
  c.version_command = add_version_command(app, c.version);
#else
  c.version_command = app.add_subcommand("version", "print the version");
  command_line::apply_conventions(*c.version_command);
  c.version_command->footer("");
#endif
  c.completion_command = add_completion_command(app, c.completion);
}

#ifdef IPCMESH_HAVE_CLUSTER
// Opens the cluster the flags name and runs `command` on it; a configuration that cannot be used
// is one line and exit 1.
int with_cluster(const ClusterFlags& flags, const std::string& name, std::ostream& err,
                 const std::function<int(ClusterAccess&)>& command) {
  std::unique_ptr<ClusterSession> session;
  try {
    session = ClusterSession::open(flags, kube::process_environment());
  } catch (const std::exception& error) {
    err << name << ": " << error.what() << "\n";
    return command_line::kExitFailure;
  }
  ClusterAccess access = session->access();
  return command(access);
}

#endif

int run_cluster_commands(Commands& c, std::ostream& out, [[maybe_unused]] std::ostream& err,
                         bool& ran) {
  ran = true;
#ifdef IPCMESH_HAVE_CLUSTER
  if (c.get_command->parsed()) {
    return with_cluster(c.get.cluster, "ipcmeshctl get", err, [&](ClusterAccess& access) {
      return run_get_channels(c.get, access, out, err);
    });
  }
  if (c.describe_command->parsed()) {
    return with_cluster(c.describe.cluster, "ipcmeshctl describe", err, [&](ClusterAccess& access) {
      return run_describe_channel(c.describe, access, out, err);
    });
  }
  if (c.why_command->parsed()) {
    return with_cluster(c.why.cluster, "ipcmeshctl why", err,
                        [&](ClusterAccess& access) { return run_why(c.why, access, out, err); });
  }
  if (c.version_command->parsed()) {
    return run_version_command(c.version, kube::process_environment(), out, err);
  }
#else
  if (c.version_command->parsed()) {
    out << "ipcmeshctl " << IPCMESH_VERSION << "\n";
    return command_line::kExitOk;
  }
#endif
  ran = false;
  return command_line::kExitOk;
}

int run_selected(CLI::App& app, Commands& c, std::istream& in, std::ostream& out,
                 std::ostream& err) {
  if (c.pub_command->parsed()) return run_pub(c.pub);
  if (c.sub_command->parsed()) return run_sub(c.sub);
  if (c.stat_command->parsed()) return run_stat(c.stat);
#ifdef IPCMESH_HAVE_BENCH
  if (c.bench_command->parsed()) {
    try {
      return bench::run_benchmark(bench::to_bench_options(c.bench), "ipcmeshctl bench");
    } catch (const std::invalid_argument& error) {
      err << command_line::usage_error("ipcmeshctl bench", error.what());
      return command_line::kExitUsage;
    }
  }
#endif
#ifdef IPCMESH_HAVE_INJECT
  if (c.inject_command->parsed()) return run_inject(std::move(c.inject), in, out, err);
#endif
  bool ran = false;
  const int code = run_cluster_commands(c, out, err, ran);
  if (ran) return code;
  if (c.completion_command->parsed()) {
    out << completion_script(app, c.completion.shell);
    return command_line::kExitOk;
  }
  err << "ipcmeshctl: no command ran\n";  // require_subcommand(1) makes this unreachable
  return command_line::kExitUsage;
}

}  // namespace

std::string program_name(std::string_view argv0) {
  const auto slash = argv0.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return base.starts_with("kubectl-") ? "kubectl " + std::string(base.substr(8)) : "ipcmeshctl";
}

int run_ipcmeshctl(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                   std::ostream& err, const std::string& program) {
  CLI::App app("ipcmeshctl: use and inspect ipcmesh channels", program);
  command_line::apply_conventions(app);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ipcmeshctl ") + IPCMESH_VERSION,
                       "print the version and exit");
  app.footer("Run \"" + program +
             " COMMAND --help\" for a command's flags.\n"
             "Exit codes: 0 ok, 1 failure, 2 usage.");
  Commands commands;
  define_commands(app, commands);
  const command_line::ParseOutcome parsed = command_line::parse(app, args);
  if (!parsed.run) {
    (parsed.exit_code == command_line::kExitOk ? out : err) << parsed.output;
    return parsed.exit_code;
  }
  return run_selected(app, commands, in, out, err);
}

}  // namespace ipcmesh::cli
