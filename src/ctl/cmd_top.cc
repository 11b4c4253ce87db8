// top (and check --watch): the live view's terminal loop. On a terminal it switches to the alternate screen, reads
// keys without echo, redraws in place every --interval and on a window size change, and puts the terminal back on
// q, Ctrl-C, SIGTERM or SIGHUP. Without a terminal (a pipe, a script) it prints one plain frame per interval.
// Signals are read from a signalfd beside the keyboard, so no handler and no global flag is needed.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>

#include "ctl/command.h"
#include "ctl/top.h"

namespace pgw::ctl {

namespace {

// Raw keys (no echo, no line buffering) while alive; ISIG stays on, so Ctrl-C still raises SIGINT.
class RawKeys {
 public:
  explicit RawKeys(int fd) : fd_(fd) {
    if (!isatty(fd_) || tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawKeys() {
    if (active_) tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawKeys(const RawKeys&) = delete;
  RawKeys& operator=(const RawKeys&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// SIGINT, SIGTERM, SIGHUP and SIGWINCH delivered through a file descriptor while alive.
class SignalFd {
 public:
  SignalFd() {
    sigemptyset(&set_);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaddset(&set_, s);
    blocked_ = pthread_sigmask(SIG_BLOCK, &set_, &old_) == 0;
    if (blocked_) fd_ = signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~SignalFd() {
    if (fd_ >= 0) close(fd_);
    if (blocked_) pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  int fd() const { return fd_; }
  // The next pending signal's number, 0 when none.
  int Next() {
    signalfd_siginfo si{};
    return fd_ >= 0 && read(fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si) ? static_cast<int>(si.ssi_signo)
                                                                                    : 0;
  }

 private:
  sigset_t set_{}, old_{};
  bool blocked_ = false;
  int fd_ = -1;
};

struct Screen {
  int cols = 0, rows = 0;
};

Screen Size(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return {};
  return {ws.ws_col, ws.ws_row};
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Draws a frame in place: home, each line cleared to its end, the rest of the screen cleared.
std::string InPlace(const std::string& frame, int rows) {
  std::string out = "\033[H";
  size_t start = 0;
  int n = 0;
  while (start < frame.size() && (rows <= 0 || n < rows - 1)) {
    size_t nl = frame.find('\n', start);
    if (nl == std::string::npos) nl = frame.size();
    out += frame.substr(start, nl - start) + "\033[K\r\n";
    start = nl + 1;
    ++n;
  }
  return out + "\033[J";
}

}  // namespace

Status ValidateTop(const Options& o) {
  std::vector<std::string> args = o.check;
  args.insert(args.end(), o.top.begin(), o.top.end());
  return top::ParseTopOptions(args).status();
}

int RunTop(const Invocation& in) {
  if (!in.args.empty()) {
    std::fprintf(in.err, "pgwardenctl: %s takes no argument besides the cluster name, got '%s'\n", in.verb.c_str(),
                 in.args.front().c_str());
    return 2;
  }
  std::vector<std::string> args = in.opts.check;
  args.insert(args.end(), in.opts.top.begin(), in.opts.top.end());
  auto opts = top::ParseTopOptions(args);
  if (!opts.ok()) {
    std::fprintf(in.err, "pgwardenctl: %s\n", opts.status().message().c_str());
    return 2;
  }
  std::fflush(in.out);
  const int out_fd = fileno(in.out);
  const bool tty = isatty(out_fd) != 0;
  const bool colour = tty && std::getenv("NO_COLOR") == nullptr;
  SignalFd signals;
  RawKeys keys(0);
  bool keyboard = isatty(0) != 0;
  if (tty) WriteAll(out_fd, "\033[?1049h\033[?25l");
  top::Model model;
  top::Sampler sampler(in.session, in.config, *opts);
  auto draw = [&] {
    std::string frame;
    if (tty) {
      Screen sc = Size(out_fd);
      frame = InPlace(top::Render(model, *opts, in.scope, sc.cols, colour), sc.rows);
    } else {
      frame = top::Render(model, *opts, in.scope, 0, false) + "\n";
    }
    WriteAll(out_fd, frame);
  };
  bool quit = false;
  for (int frames = 0; !quit;) {
    model.Add(sampler.Take());
    draw();
    if (opts->iterations > 0 && ++frames >= opts->iterations) break;
    MonoTime next = RealClock().Now() + opts->interval;
    while (!quit) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - RealClock().Now()).count();
      if (left <= 0) break;
      pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {keyboard ? 0 : -1, POLLIN, 0}};
      if (poll(fds, 2, static_cast<int>(left)) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        for (int sig = signals.Next(); sig != 0; sig = signals.Next()) {
          if (sig == SIGWINCH)
            draw();
          else
            quit = true;
        }
      }
      if (fds[1].revents & (POLLIN | POLLHUP)) {
        char buf[64];
        ssize_t n = read(0, buf, sizeof buf);
        if (n <= 0) keyboard = false;  // end of input: keep drawing until a signal or --iterations
        for (ssize_t i = 0; i < n; ++i) quit = quit || buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3;
      }
    }
  }
  if (tty) WriteAll(out_fd, "\033[?25h\033[?1049l");
  return 0;
}

}  // namespace pgw::ctl
