// pgwardenctl top as a terminal program: run in a pseudo-terminal against a real cluster, it draws the members,
// follows a planned switchover to the new leader, puts the terminal back and exits on q and on Ctrl-C; in a pipe it
// prints plain frames.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>

#include "helpers.h"

namespace pgw::itest {
namespace {

using std::chrono::seconds;

// A child process on the slave side of a pseudo-terminal (its controlling terminal, 100x30), read and written from
// the master side.
class PtyProcess {
 public:
  explicit PtyProcess(const std::vector<std::string>& argv) {
    winsize ws{};
    ws.ws_col = 100;
    ws.ws_row = 30;
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      execv(args[0], args.data());
      _exit(127);
    }
    if (master_ >= 0) fcntl(master_, F_SETFL, fcntl(master_, F_GETFL) | O_NONBLOCK);
  }
  ~PtyProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  bool started() const { return pid_ > 0 && master_ >= 0; }
  void Write(const std::string& s) { (void)!write(master_, s.data(), s.size()); }
  // Reads what the child wrote until `pred` holds for the text read so far, or the deadline passes.
  bool ReadUntil(const std::function<bool(const std::string&)>& pred, Duration timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred(out_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = read(master_, buf, sizeof buf);
      if (n > 0)
        out_.append(buf, static_cast<size_t>(n));
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        return pred(out_);  // EIO: the child closed the pty
    }
    return true;
  }
  // The exit status once the child exited within `timeout`, else -1.
  int Wait(Duration timeout) {
    int code = -1;
    WaitFor(
        [&] {
          int st = 0;
          ReadUntil([](const std::string&) { return false; }, Duration(50));  // keep draining the master side
          if (waitpid(pid_, &st, WNOHANG) != pid_) return false;
          exited_ = true;
          code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          return true;
        },
        timeout, Duration(1));  // ReadUntil already waited up to 50 ms
    return code;
  }
  const std::string& output() const { return out_; }
  size_t Mark() const { return out_.size(); }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  std::string out_;
};

// pgwardenctl's output (stdout and stderr) with `args`.
std::string Pgwardenctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {PgwardenctlBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions o;
  o.timeout = Duration(90000);
  auto r = pgw::Run(argv, o);
  return r.ok() ? r->output : r.status().message();
}

class TopTest : public ClusterFixture {
 protected:
  TopTest() : ClusterFixture("top") {}
  std::vector<std::string> TopArgv() {
    return {PgwardenctlBin(), "-c", sb_->nodes()[0].config_path, "top", "--interval", "0.3"};
  }
};

TEST_F(TopTest, DrawsFollowsASwitchoverQuitsOnQOrCtrlCAndPrintsPlainFramesInAPipe) {
  StartCluster(2, FastTiming);
  ASSERT_FALSE(HasFatalFailure());
  const std::string old_leader = LeaderKey();
  ASSERT_FALSE(old_leader.empty());
  std::string candidate;
  for (const auto& n : sb_->nodes()) {
    if (n.name != old_leader) candidate = n.name;
  }

  PtyProcess top(TopArgv());
  ASSERT_TRUE(top.started());
  // The alternate screen, then a frame naming the leader and both members, the replica streaming.
  ASSERT_TRUE(top.ReadUntil(
      [&](const std::string& s) {
        return s.find("\033[?1049h") != std::string::npos && s.find("leader " + old_leader) != std::string::npos &&
               s.find(candidate) != std::string::npos && s.find("streaming") != std::string::npos;
      },
      Duration(20000)))
      << top.output();

  // A planned switchover: the view follows it to the new leader.
  std::string out = Pgwardenctl(
      {"-c", sb_->nodes()[0].config_path, "switchover", "--leader", old_leader, "--candidate", candidate, "--force"});
  ASSERT_TRUE(WaitFor([&] { return LeaderKey() == candidate; }, seconds(60))) << out;
  size_t mark = top.Mark();
  EXPECT_TRUE(top.ReadUntil(
      [&](const std::string& s) { return s.find("leader " + candidate, mark) != std::string::npos; }, Duration(20000)))
      << top.output().substr(mark);

  // q: the cursor and the main screen come back and the exit status is 0.
  top.Write("q");
  EXPECT_EQ(top.Wait(Duration(10000)), 0);
  const std::string& all = top.output();
  EXPECT_NE(all.rfind("\033[?25h\033[?1049l"), std::string::npos);

  // Ctrl-C from the terminal (SIGINT through the line discipline) also ends it cleanly.
  PtyProcess again(TopArgv());
  ASSERT_TRUE(again.started());
  ASSERT_TRUE(again.ReadUntil([&](const std::string& s) { return s.find("leader " + candidate) != std::string::npos; },
                              Duration(20000)))
      << again.output();
  again.Write("\x03");
  EXPECT_EQ(again.Wait(Duration(10000)), 0);
  EXPECT_NE(again.output().rfind("\033[?1049l"), std::string::npos);

  // Without a terminal (check --watch in a pipe): plain frames, no escapes, stopped by --iterations.
  out = Pgwardenctl({"-c", sb_->nodes()[0].config_path, "check", "--watch", "--iterations", "2", "--interval", "0.2"});
  EXPECT_EQ(out.find("\033["), std::string::npos) << out;
  size_t first = out.find("pgwarden top - cluster top");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("pgwarden top - cluster top", first + 1), std::string::npos) << out;  // two frames
  EXPECT_NE(out.find("leader " + candidate), std::string::npos) << out;
  EXPECT_NE(out.find("timeline 1 -> 2"), std::string::npos) << out;  // the switchover, under "Last failovers"
  EXPECT_NE(Pgwardenctl({"-c", sb_->nodes()[0].config_path, "check", "--iterations", "2"}).find("goes with --watch"),
            std::string::npos);
}

}  // namespace
}  // namespace pgw::itest
