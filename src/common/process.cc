#include "common/process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace pgw {
namespace {

constexpr size_t kMaxCapture = 1 << 20;

// Everything the child needs, prepared before fork() so the child only makes async-signal-safe calls.
struct ExecPlan {
  std::vector<std::string> argv_store;
  std::vector<std::string> env_store;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string cwd;
  std::optional<RunAs> run_as;

  ExecPlan(const std::vector<std::string>& args, const ProcessOptions& opts) : argv_store(args) {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& k : opts.env_unset) env.erase(k);
    for (const auto& [k, v] : opts.env_set) env[k] = v;
    if (opts.run_as && !opts.run_as->home.empty()) env["HOME"] = opts.run_as->home;
    for (const auto& [k, v] : env) env_store.push_back(k + "=" + v);
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);
    cwd = opts.cwd;
    run_as = opts.run_as;
  }
};

// In the child after fork(): only async-signal-safe calls. Writes errno to `errpipe` on failure.
[[noreturn]] void ExecChild(const ExecPlan& plan, int errpipe) {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) != 0) goto fail;
  if (plan.run_as && geteuid() == 0) {
    if (setgroups(0, nullptr) != 0) goto fail;
    if (setgid(plan.run_as->gid) != 0) goto fail;
    if (setuid(plan.run_as->uid) != 0) goto fail;
  }
  execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
fail:
  int err = errno;
  ssize_t ignored = write(errpipe, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

// Reads the exec-failure pipe: returns 0 when exec succeeded (pipe closed by CLOEXEC), else the errno.
int ReadExecError(int errpipe) {
  int err = 0;
  ssize_t n;
  do {
    n = read(errpipe, &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  close(errpipe);
  return n == static_cast<ssize_t>(sizeof err) ? err : 0;
}

std::string ExecFailure(const std::vector<std::string>& argv, int err) {
  return "cannot run " + argv[0] + ": " + std::strerror(err);
}

}  // namespace

std::string RunResult::Describe() const {
  if (timed_out) return "timed out and was killed";
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exit code " + std::to_string(exit_code);
}

Result<RunResult> Run(const std::vector<std::string>& argv, const ProcessOptions& opts) {
  if (argv.empty()) return InvalidArgument("empty command");
  ExecPlan plan(argv, opts);
  int out[2], in[2], errp[2];
  if (pipe2(out, O_CLOEXEC) != 0) return IoError("pipe: " + std::string(std::strerror(errno)));
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return IoError("pipe: " + std::string(std::strerror(errno)));
  }
  if (pipe2(errp, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    close(in[0]);
    close(in[1]);
    return IoError("pipe: " + std::string(std::strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], in[0], in[1], errp[0], errp[1]}) close(fd);
    return IoError("fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);  // own process group, so a timeout kills the whole tree
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    ExecChild(plan, errp[1]);
  }
  close(out[1]);
  close(in[0]);
  close(errp[1]);
  int exec_err = ReadExecError(errp[0]);
  if (exec_err != 0) {
    close(out[0]);
    close(in[1]);
    waitpid(pid, nullptr, 0);
    return IoError(ExecFailure(argv, exec_err));
  }
  if (!opts.stdin_data.empty()) {
    signal(SIGPIPE, SIG_IGN);  // a child that does not read its stdin must not kill us
    const char* p = opts.stdin_data.data();
    size_t left = opts.stdin_data.size();
    while (left > 0) {
      ssize_t n = write(in[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  close(in[1]);

  RunResult res;
  std::string pending;
  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  bool eof = false;
  while (!eof) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      res.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = true;
      break;
    }
    res.output.append(buf, static_cast<size_t>(n));
    if (res.output.size() > kMaxCapture) res.output.erase(0, res.output.size() - kMaxCapture);
    if (opts.on_line) {
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        opts.on_line(pending.substr(0, nl));
        pending.erase(0, nl + 1);
      }
    }
  }
  if (opts.on_line && !pending.empty()) opts.on_line(pending);
  close(out[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st)) res.exit_code = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) res.signal = WTERMSIG(st);
  return res;
}

Result<pid_t> StartDetached(const std::vector<std::string>& argv, const std::string& log_path,
                            const ProcessOptions& opts) {
  if (argv.empty()) return InvalidArgument("empty command");
  ExecPlan plan(argv, opts);
  int logfd = log_path.empty() ? fcntl(2, F_DUPFD_CLOEXEC, 3)
                               : open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (logfd < 0) return IoError("cannot open " + log_path + ": " + std::strerror(errno));
  if (!log_path.empty() && opts.run_as && geteuid() == 0 && fchown(logfd, opts.run_as->uid, opts.run_as->gid) != 0) {
    close(logfd);
    return IoError("cannot chown " + log_path + ": " + std::strerror(errno));
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int errp[2];
  if (devnull < 0 || pipe2(errp, O_CLOEXEC) != 0) {
    close(logfd);
    if (devnull >= 0) close(devnull);
    return IoError("cannot prepare daemon I/O: " + std::string(std::strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(logfd);
    close(devnull);
    close(errp[0]);
    close(errp[1]);
    return IoError("fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    setsid();
    dup2(opts.stdin_fd >= 0 ? opts.stdin_fd : devnull, 0);
    dup2(logfd, 1);
    dup2(logfd, 2);
    ExecChild(plan, errp[1]);
  }
  close(logfd);
  close(devnull);
  close(errp[1]);
  int exec_err = ReadExecError(errp[0]);
  if (exec_err != 0) {
    waitpid(pid, nullptr, 0);
    return IoError(ExecFailure(argv, exec_err));
  }
  return pid;
}

bool Reap(pid_t pid) {
  int st;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == pid) return true;
  if (r < 0 && errno == ECHILD) return !ProcessAlive(pid);
  return false;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  return kill(pid, 0) == 0 || errno == EPERM;
}

Result<RunAs> LookupUser(const std::string& name) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return NotFound("no OS user named '" + name + "'");
  }
  return RunAs{pw.pw_uid, pw.pw_gid, pw.pw_dir ? pw.pw_dir : "/"};
}

}  // namespace pgw
