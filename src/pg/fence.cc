#include "pg/fence.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "common/process.h"

namespace pgw {

namespace {

// /proc files report size 0: read until EOF.
std::string ReadProc(const std::string& path) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && pid > 0) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(d);
  return out;
}

// Field 4 of /proc/PID/stat. The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
std::optional<pid_t> ParentOf(pid_t pid) {
  std::string stat = ReadProc("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  long ppid = 0;
  if (!(rest >> state >> ppid)) return std::nullopt;
  return static_cast<pid_t>(ppid);
}

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
std::optional<uint64_t> StartTicks(pid_t pid) {
  std::string stat = ReadProc("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i < 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  uint64_t start = 0;
  if (!(rest >> start)) return std::nullopt;
  return start;
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

std::string CanonicalDir(const std::string& dir) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(dir, ec);
  return ec ? dir : c.string();
}

// Whether `pid` runs a postgres executable with `want` (canonical) as its working directory. Zombies and processes
// we may not inspect have no readable exe link: they are not matched.
bool IsDataDirProcess(pid_t pid, const std::string& want) {
  std::string base = "/proc/" + std::to_string(pid);
  std::string exe = ReadLink(base + "/exe");
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.size() > kDeleted.size() && exe.compare(exe.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    exe.resize(exe.size() - kDeleted.size());  // the binary was replaced on disk (package upgrade)
  }
  std::string prog = exe.substr(exe.rfind('/') + 1);
  if (prog != "postgres" && prog != "postmaster") return false;
  return ReadLink(base + "/cwd") == want;
}

int PidfdSignal(int pidfd, pid_t pid, int sig) {
#ifdef SYS_pidfd_send_signal
  if (pidfd >= 0) return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
#endif
  (void)pidfd;
  return kill(pid, sig);
}

// True when the process behind `pidfd` has exited (or, without a pidfd, when `pid` no longer exists).
bool Exited(int pidfd, pid_t pid) {
  if (pidfd < 0) return !ProcessAlive(pid) || ProcessArgv(pid).empty();
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

// The fence proper: see FenceDataDir. `skip` exempts processes (KillOrphanedBackends spares a live postmaster).
Result<int> KillDataDir(const std::string& data_dir, Duration verify, const std::function<bool(pid_t)>& skip) {
  const std::string want = CanonicalDir(data_dir);
  pid_t me = getpid();
  std::map<pid_t, int> killed;  // pid -> pidfd (-1 without pidfd support)
  std::vector<std::string> errors;
  auto close_all = [&] {
    for (auto& [pid, fd] : killed) {
      if (fd >= 0) close(fd);
    }
  };
  // Rescan until a pass finds nothing new: a postmaster may fork between a scan and its SIGKILL; once it is killed
  // nothing forks any more, so this ends after a pass or two.
  for (int pass = 0; pass < 20; ++pass) {
    std::vector<std::pair<pid_t, int>> fresh;
    for (pid_t p : AllPids()) {
      if (p == me || !IsDataDirProcess(p, want) || (skip && skip(p))) continue;
      auto it = killed.find(p);
      if (it != killed.end()) {
        if (!Exited(it->second, p)) continue;    // already SIGKILLed, still exiting
        if (it->second >= 0) close(it->second);  // that one is gone: this is a new process with a recycled pid
        killed.erase(it);
      }
      int fd = OpenPidfd(p);
      if (fd < 0 && errno == ESRCH) continue;  // exited since the scan
      // The pidfd pins one process: check that it is still the one the scan matched (not a recycled pid).
      if (!IsDataDirProcess(p, want) || (fd >= 0 && PidfdSignal(fd, p, 0) != 0)) {
        if (fd >= 0) close(fd);
        continue;
      }
      fresh.emplace_back(p, fd);
    }
    if (fresh.empty()) break;
    // Stop them all first so that a postmaster cannot fork while its children are being killed.
    for (auto [p, fd] : fresh) PidfdSignal(fd, p, SIGSTOP);
    for (auto [p, fd] : fresh) {
      if (PidfdSignal(fd, p, SIGKILL) != 0 && errno != ESRCH) {
        errors.push_back("cannot kill pid " + std::to_string(p) + ": " + std::strerror(errno));
      }
      killed[p] = fd;
    }
  }
  // Verify: every process we signalled has exited and a last scan finds none.
  auto deadline = std::chrono::steady_clock::now() + verify;
  std::vector<pid_t> left;
  while (true) {
    left.clear();
    for (auto& [p, fd] : killed) {
      if (!Exited(fd, p)) left.push_back(p);
    }
    for (pid_t p : AllPids()) {
      if (p != me && !killed.count(p) && IsDataDirProcess(p, want) && !(skip && skip(p))) left.push_back(p);
    }
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  int n = static_cast<int>(killed.size());
  close_all();
  if (left.empty()) return n;
  std::string msg = "processes of " + data_dir + " still running after the fence:";
  for (pid_t p : left) msg += " " + std::to_string(p);
  for (const auto& e : errors) msg += "; " + e;
  return IoError(msg);
}

}  // namespace

int OpenPidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

std::vector<std::string> ProcessArgv(pid_t pid) {
  std::string raw = ReadProc("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  std::string cur;
  for (char c : raw) {
    if (c == '\0') {
      argv.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) argv.push_back(cur);
  return argv;
}

std::vector<pid_t> ChildrenOf(pid_t ppid) {
  std::vector<pid_t> out;
  for (pid_t p : AllPids()) {
    auto parent = ParentOf(p);
    if (parent && *parent == ppid) out.push_back(p);
  }
  return out;
}

std::vector<pid_t> FindFenceSupervisors(const std::string& data_dir, bool any_user) {
  return FindProcesses(
      [&](const std::vector<std::string>& argv) {
        return argv.size() == 3 && argv[1] == kFenceSupervisorFlag && argv[2] == data_dir;
      },
      any_user);
}

std::vector<pid_t> FindProcesses(const std::function<bool(const std::vector<std::string>&)>& pred, bool any_user) {
  std::vector<pid_t> out;
  uid_t me = getuid();
  for (pid_t p : AllPids()) {
    struct stat st {};
    if (stat(("/proc/" + std::to_string(p)).c_str(), &st) != 0 || (!any_user && st.st_uid != me)) continue;
    auto argv = ProcessArgv(p);
    if (!argv.empty() && pred(argv)) out.push_back(p);
  }
  return out;
}

std::optional<pid_t> LivePostmaster(const std::string& data_dir) {
  auto text = ReadFile(data_dir + "/postmaster.pid");
  if (!text.ok()) return std::nullopt;
  pid_t pid = static_cast<pid_t>(std::atol(text->c_str()));
  if (pid <= 0 || !ProcessAlive(pid)) return std::nullopt;
  auto argv = ProcessArgv(pid);
  if (argv.empty()) return std::nullopt;  // gone, or a zombie (its cmdline is empty)
  std::string prog = argv[0].substr(argv[0].rfind('/') + 1);
  // The postmaster rewrites its title on some platforms ("postgres: ..."): accept both forms.
  if (prog.rfind("postgres", 0) != 0 && prog.rfind("postmaster", 0) != 0) return std::nullopt;
  return pid;
}

std::vector<pid_t> DataDirProcesses(const std::string& data_dir, bool any_user) {
  const std::string want = CanonicalDir(data_dir);
  std::vector<pid_t> out;
  uid_t uid = getuid();
  pid_t me = getpid();
  for (pid_t p : AllPids()) {
    if (p == me) continue;
    struct stat st {};
    if (!any_user && (stat(("/proc/" + std::to_string(p)).c_str(), &st) != 0 || st.st_uid != uid)) continue;
    if (IsDataDirProcess(p, want)) out.push_back(p);
  }
  return out;
}

Result<int> FenceDataDir(const std::string& data_dir, Duration verify) {
  return KillDataDir(data_dir, verify, nullptr);
}

uint64_t BootTicks() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  auto hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  return static_cast<uint64_t>(ts.tv_sec) * hz + static_cast<uint64_t>(ts.tv_nsec) * hz / 1000000000u;
}

Result<int> KillOrphanedBackends(const std::string& data_dir, Duration verify, std::optional<uint64_t> started_by) {
  auto pm = LivePostmaster(data_dir);
  pid_t live = pm ? *pm : 0;
  return KillDataDir(data_dir, verify, [live, started_by](pid_t p) {
    if (live > 0) {
      if (p == live) return true;
      auto parent = ParentOf(p);
      if (parent && *parent == live) return true;
    }
    if (started_by) {
      auto start = StartTicks(p);
      if (!start || *start > *started_by) return true;
    }
    return false;
  });
}

}  // namespace pgw
