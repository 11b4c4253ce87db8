#include "pg/fence.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>

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

}  // namespace

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

int KillOrphanedBackends(const std::string& data_dir) {
  std::error_code ec;
  auto want = std::filesystem::weakly_canonical(data_dir, ec);
  if (ec) return 0;
  std::vector<pid_t> killed;
  for (pid_t p : FindOwnProcesses([](const std::vector<std::string>& argv) {
         return argv[0].rfind("postgres", 0) == 0 || argv[0].find("/postgres") != std::string::npos;
       })) {
    auto cwd = std::filesystem::read_symlink("/proc/" + std::to_string(p) + "/cwd", ec);
    if (ec || cwd != want) continue;
    if (kill(p, SIGKILL) == 0) killed.push_back(p);
  }
  // They are not our children: wait (bounded) until they are gone and their shared memory is detached.
  for (int i = 0; i < 200; ++i) {
    bool any = false;
    for (pid_t p : killed) any = any || !ProcessArgv(p).empty();
    if (!any) break;
    usleep(10000);
  }
  return static_cast<int>(killed.size());
}

Result<int> FenceKillPostmaster(const std::string& data_dir) {
  auto pm = LivePostmaster(data_dir);
  if (!pm) return 0;
  if (kill(*pm, SIGSTOP) != 0) return IoError("cannot stop postmaster " + std::to_string(*pm));
  int killed = 0;
  // Children cannot multiply while their parent is stopped; one pass finds them all. A second pass catches a
  // child that was being forked when the SIGSTOP landed.
  for (int pass = 0; pass < 2; ++pass) {
    for (pid_t c : ChildrenOf(*pm)) {
      if (kill(c, SIGKILL) == 0) ++killed;
    }
  }
  if (kill(*pm, SIGKILL) == 0) ++killed;
  return killed;
}

}  // namespace pgw
