#include "kube/kube_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>

namespace ipcmesh::kube {
namespace {
namespace fs = std::filesystem;

class KubeConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ipcmesh-kubeconfig-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path write(const std::string& relative, const std::string& text) {
    const fs::path path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path;
  }
  fs::path root_;
};

Environment environment_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// "-----BEGIN CERTIFICATE-----\nX\n" base64-encoded, to tell data from files.
constexpr const char* kCaText = "CA FROM DATA\n";
constexpr const char* kCaBase64 = "Q0EgRlJPTSBEQVRBCg==";

// The first file of KUBECONFIG wins for a name both define; names only the second defines still
// merge in; the first non-empty current-context wins.
TEST_F(KubeConfigFiles, FirstFileWinsWhenMergingTheKubeconfigList) {
  const auto first = write("a/config", R"(
clusters:
- name: shared
  cluster: {server: "https://first:6443", certificate-authority-data: Q0EgRlJPTSBEQVRBCg==}
contexts:
- name: one
  context: {cluster: shared, user: alice, namespace: team-a}
users:
- name: alice
  user: {token: first-token}
)");
  const auto second = write("b/config", R"(
current-context: two
clusters:
- name: shared
  cluster: {server: "https://second:6443"}
- name: other
  cluster: {server: "https://other:6443", certificate-authority-data: Q0EgRlJPTSBEQVRBCg==}
contexts:
- name: two
  context: {cluster: other, user: alice}
users:
- name: alice
  user: {token: second-token}
)");
  const auto paths =
      kubeconfig_paths(environment_of({{"KUBECONFIG", first.string() + "::" + second.string()}}));
  ASSERT_EQ(paths.size(), 2u);

  const ClusterConnection current = load_kubeconfig(paths);
  EXPECT_EQ(current.server, "https://other:6443");  // current-context "two" from the 2nd file
  EXPECT_EQ(current.token(), "first-token");        // but user alice from the 1st
  EXPECT_EQ(current.default_namespace, "default");

  const ClusterConnection one = load_kubeconfig(paths, "one");
  EXPECT_EQ(one.server, "https://first:6443");
  EXPECT_EQ(one.ca_pem, kCaText);
  EXPECT_EQ(one.default_namespace, "team-a");
}

// Relative certificate, key and token paths resolve against the folder of the file that
// defined them, not the working directory; files in the list that do not exist are skipped.
TEST_F(KubeConfigFiles, RelativePathsResolveAgainstTheirOwnFile) {
  write("nested/dir/ca.crt", "CA FROM FILE\n");
  write("nested/dir/certs/client.crt", "CLIENT CERT\n");
  write("nested/dir/certs/client.key", "CLIENT KEY\n");
  write("nested/dir/token", "  file-token\n");
  const auto config = write("nested/dir/config", R"(
current-context: c
clusters:
- name: k
  cluster: {server: "https://k:6443", certificate-authority: ca.crt}
contexts:
- name: c
  context: {cluster: k, user: u}
users:
- name: u
  user: {client-certificate: certs/client.crt, client-key: certs/client.key, tokenFile: token}
)");
  const ClusterConnection connection = load_kubeconfig({root_ / "does-not-exist", config});
  EXPECT_EQ(connection.ca_pem, "CA FROM FILE\n");
  EXPECT_EQ(connection.client_certificate_pem, "CLIENT CERT\n");
  EXPECT_EQ(connection.client_key_pem, "CLIENT KEY\n");
  EXPECT_EQ(connection.token(), "file-token");
}

// *-data fields (base64) win over the path fields, as in client-go.
TEST_F(KubeConfigFiles, InlineDataWinsOverFilePaths) {
  const auto config = write("config", std::string(R"(
current-context: c
clusters:
- name: k
  cluster: {server: "https://k", certificate-authority: missing.crt, certificate-authority-data: )") +
                                          kCaBase64 + R"(}
contexts:
- name: c
  context: {cluster: k, user: u}
users:
- name: u
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
)");
  const ClusterConnection connection = load_kubeconfig({config});
  EXPECT_EQ(connection.ca_pem, kCaText);
  EXPECT_EQ(connection.client_certificate_pem, "CERT");
  EXPECT_EQ(connection.client_key_pem, "KEY");
  EXPECT_FALSE(connection.token);
}

// Configurations ipcmesh refuses say why: no TLS verification, unknown context, plugins.
TEST_F(KubeConfigFiles, UnusableConfigurationsAreRefusedWithTheReason) {
  const auto insecure = write("insecure", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  try {
    load_kubeconfig({insecure});
    FAIL() << "insecure-skip-tls-verify accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("always verifies TLS"), std::string::npos);
  }
  EXPECT_THROW(load_kubeconfig({insecure}, "nope"), ConfigError);
  const auto exec = write("exec", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {exec: {command: aws}}}]
)");
  EXPECT_THROW(load_kubeconfig({exec}), ConfigError);
  EXPECT_THROW(load_kubeconfig({root_ / "none"}), ConfigError);
}

// In-cluster config builds the URL from the service variables (bracketing IPv6) and reads the
// service account's CA, token and namespace.
TEST_F(KubeConfigFiles, InClusterConfigHandlesIpv4AndIpv6Hosts) {
  write("sa/ca.crt", "SERVICE ACCOUNT CA\n");
  write("sa/token", "sa-token\n");
  write("sa/namespace", "ipcmesh-system\n");
  struct Case {
    std::string host;
    std::string port;
    std::string server;
  };
  for (const Case& c : {Case{"10.96.0.1", "443", "https://10.96.0.1:443"},
                        Case{"fd00:10:96::1", "443", "https://[fd00:10:96::1]:443"},
                        Case{"[fd00::1]", "6443", "https://[fd00::1]:6443"}}) {
    const auto env =
        environment_of({{"KUBERNETES_SERVICE_HOST", c.host}, {"KUBERNETES_SERVICE_PORT", c.port}});
    ASSERT_TRUE(running_in_cluster(env));
    const ClusterConnection connection = in_cluster_config(env, root_ / "sa");
    EXPECT_EQ(connection.server, c.server);
    EXPECT_EQ(connection.ca_pem, "SERVICE ACCOUNT CA\n");
    EXPECT_EQ(connection.token(), "sa-token");
    EXPECT_EQ(connection.default_namespace, "ipcmesh-system");
  }
  EXPECT_FALSE(running_in_cluster(environment_of({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}})));
  EXPECT_THROW(in_cluster_config(environment_of({}), root_ / "sa"), ConfigError);
}

// ipcmeshctl resolves as kubectl does: --kubeconfig, then the KUBECONFIG list (or
// ~/.kube/config), and only when no such file exists the Pod's service account; a --context
// without any kubeconfig is the kubeconfig's error, never a silent in-cluster connection.
TEST_F(KubeConfigFiles, KubectlOrderPrefersKubeconfigFilesOverInCluster) {
  write("sa/ca.crt", "SERVICE ACCOUNT CA\n");
  write("sa/token", "sa-token\n");
  write("ca.crt", "FILE CA\n");
  const std::string contexts =
      "clusters:\n- name: a\n  cluster: {server: 'https://a:6443', certificate-authority: "
      "ca.crt}\n- name: b\n  cluster: {server: 'https://b:6443', certificate-authority: "
      "ca.crt}\n"
      "contexts:\n- name: first\n  context: {cluster: a}\n- name: second\n  context: "
      "{cluster: b, namespace: team-b}\n"
      "current-context: first\n";
  const fs::path listed = write("listed.yaml", contexts);
  const fs::path explicit_file = write("explicit.yaml", contexts);
  std::map<std::string, std::string> in_pod = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                               {"KUBERNETES_SERVICE_PORT", "443"},
                                               {"HOME", (root_ / "home").string()}};
  // In a Pod without any kubeconfig: the service account.
  EXPECT_EQ(load_kubectl_connection(environment_of(in_pod), "", "", root_ / "sa").server,
            "https://10.96.0.1:443");
  EXPECT_THROW(load_kubectl_connection(environment_of(in_pod), "", "second", root_ / "sa"),
               ConfigError);
  // A KUBECONFIG file wins over the service account, and --context picks among its contexts.
  in_pod["KUBECONFIG"] = (root_ / "missing.yaml").string() + ":" + listed.string();
  EXPECT_EQ(load_kubectl_connection(environment_of(in_pod), "", "", root_ / "sa").server,
            "https://a:6443");
  const ClusterConnection second =
      load_kubectl_connection(environment_of(in_pod), "", "second", root_ / "sa");
  EXPECT_EQ(second.server, "https://b:6443");
  EXPECT_EQ(second.default_namespace, "team-b");
  // An explicit --kubeconfig wins over both.
  fs::remove(listed);
  EXPECT_EQ(load_kubectl_connection(environment_of(in_pod), explicit_file.string(), "second",
                                    root_ / "sa")
                .server,
            "https://b:6443");
}

// A rotated token is picked up once the cached one is a minute old, and a failed re-read keeps
// the last good token instead of dropping authentication.
TEST_F(KubeConfigFiles, TokenFileIsReReadEveryMinute) {
  const auto path = write("token", "one");
  auto now = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  FileTokenSource source(path, std::chrono::seconds(60), [&now] { return now; });
  EXPECT_EQ(source.token(), "one");
  write("token", "two");
  now += std::chrono::seconds(59);
  EXPECT_EQ(source.token(), "one");
  now += std::chrono::seconds(2);
  EXPECT_EQ(source.token(), "two");
  fs::remove(path);
  now += std::chrono::seconds(61);
  EXPECT_EQ(source.token(), "two");
}

// KUBECONFIG unset means ~/.kube/config.
TEST(KubeConfigPaths, DefaultsToTheHomeKubeConfig) {
  const auto paths = kubeconfig_paths(environment_of({{"HOME", "/home/me"}}));
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0], fs::path("/home/me/.kube/config"));
}

// base64 as kubeconfig files carry it: padded, with line breaks; garbage is an error.
TEST(KubeConfigBase64, DecodesPaddedAndWrappedTextAndRejectsGarbage) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVs\nbG8gd29y\nbGQ="), "hello world");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_THROW(decode_base64("a*b="), ConfigError);
  EXPECT_THROW(decode_base64("aGVsbG8=x"), ConfigError);
}

}  // namespace
}  // namespace ipcmesh::kube
