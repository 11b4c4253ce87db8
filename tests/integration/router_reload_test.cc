// SIGHUP to a real pgwarden-router process after editing its -c file: the live settings change (seen in /stats),
// the restart-only ones are logged as such, and a file with errors is refused with the errors logged and the
// running configuration kept. No cluster is needed: the etcd endpoint is a closed port.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "helpers.h"
#include "net/http_client.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

std::string RouterBin() { return std::string(PGW_BIN_DIR) + "/pgwarden-router"; }

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

std::string ReadText(const std::string& path) {
  auto t = pgw::ReadFile(path);
  return t.ok() ? *t : "";
}

Json Stats(int admin_port) {
  HttpClient http;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(admin_port) + "/stats";
  auto r = http.Do(req);
  if (!r.ok() || r->status != 200) return Json();
  return Json::parse(r->body, nullptr, false);
}

TEST(RouterReloadTest, SighupAppliesLiveSettingsReportsRestartOnesAndRefusesBadFiles) {
  TempDir dir("reload");
  auto ports = FreePorts(4);
  ASSERT_TRUE(ports.ok()) << ports.status().message();
  std::string base = "scope: demo\ndcs_urls: [http://127.0.0.1:" + std::to_string((*ports)[3]) + "]\n" +
                     "listen_write: 127.0.0.1:" + std::to_string((*ports)[0]) + "\n" +
                     "listen_read: 127.0.0.1:" + std::to_string((*ports)[1]) + "\n" +
                     "listen_admin: 127.0.0.1:" + std::to_string((*ports)[2]) + "\n";
  std::string file = dir.path + "/router.yml", log = dir.path + "/router.log";
  WriteText(file, base + "workers: 1\nread_max_lag: 1MB\n");
  auto pid = StartDetached({RouterBin(), "-c", file}, log);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  int admin = (*ports)[2];
  Json s;
  bool up = WaitFor([&] { return (s = Stats(admin)).is_object(); }, seconds(10));
  if (!up) {
    kill(*pid, SIGKILL);
    FAIL() << "router did not start: " << ReadText(log);
  }
  EXPECT_EQ(s["config"]["read_max_lag_bytes"].get<int64_t>(), 1 << 20);

  // Live: the lag threshold, the waits, the log level; restart-only: the worker count.
  WriteText(file, base + "workers: 2\nread_max_lag: 3MB\nno_leader_wait: 1s\nlog_level: DEBUG\n");
  ASSERT_EQ(kill(*pid, SIGHUP), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        s = Stats(admin);
        return s.is_object() && s["config"]["reloads"].get<int>() == 1;
      },
      seconds(10)))
      << s.dump();
  EXPECT_EQ(s["config"]["read_max_lag_bytes"].get<int64_t>(), 3 << 20);
  EXPECT_EQ(s["config"]["no_leader_wait_ms"].get<int64_t>(), 1000);
  EXPECT_EQ(s["config"]["log_level"].get<std::string>(), "DEBUG");
  EXPECT_EQ(s["config"]["workers"].get<int>(), 1);
  EXPECT_EQ(s["workers"].size(), 1u);
  std::string text = ReadText(log);
  EXPECT_NE(text.find("reload: applied read_max_lag: 1048576 -> 3145728"), std::string::npos) << text;
  EXPECT_NE(text.find("reload: applied log_level: INFO -> DEBUG"), std::string::npos) << text;
  EXPECT_NE(text.find("reload: not applied, workers: 1 -> 2 (needs a restart; 1 until then)"), std::string::npos)
      << text;

  // A file with errors: refused, every error logged, the running configuration kept.
  WriteText(file, base + "read_max_lag: lots\nno_such_key: 1\n");
  ASSERT_EQ(kill(*pid, SIGHUP), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        s = Stats(admin);
        return s.is_object() && s["config"]["reload_failures"].get<int>() == 1;
      },
      seconds(10)))
      << s.dump();
  EXPECT_EQ(s["config"]["read_max_lag_bytes"].get<int64_t>(), 3 << 20);
  EXPECT_EQ(s["config"]["reloads"].get<int>(), 1);
  text = ReadText(log);
  EXPECT_NE(text.find("reload refused: read_max_lag (--read-max-lag): 'lots' is not a size"), std::string::npos)
      << text;
  EXPECT_NE(text.find("reload refused: no_such_key: unknown setting"), std::string::npos) << text;

  ASSERT_EQ(kill(*pid, SIGTERM), 0);
  EXPECT_TRUE(WaitFor([&] { return Reap(*pid); }, seconds(10))) << "the router did not stop on SIGTERM";
}

}  // namespace
}  // namespace pgw::itest
