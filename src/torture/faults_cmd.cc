// User commands as a fault (torture/faults.h): for clusters other than a sandbox.
#include "common/process.h"
#include "torture/faults.h"

namespace pgw::torture {

namespace {

std::string Tail(const std::string& text, size_t n) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t.size() > n ? "..." + t.substr(t.size() - n) : t;
}

Status RunCommand(const std::vector<std::string>& argv, Duration timeout, const std::string& what) {
  ProcessOptions o;
  o.timeout = timeout;
  auto r = Run(argv, o);
  if (!r.ok()) return r.status().Context(what + " '" + argv[0] + "' could not start");
  if (!r->Success()) return Unavailable(what + " failed (" + r->Describe() + "): " + Tail(r->output, 400));
  return Status::Ok();
}

class CommandFault final : public Fault {
 public:
  CommandFault(std::vector<std::string> fault, std::vector<std::string> recover, std::optional<Duration> hold,
               Duration timeout)
      : fault_(std::move(fault)), recover_(std::move(recover)), hold_(hold), timeout_(timeout) {}

  Status Inject() override {
    pending_recover_ = !recover_.empty();
    return RunCommand(fault_, timeout_, "the fault command");
  }
  Status Recover() override {
    if (!pending_recover_) return Status::Ok();
    pending_recover_ = false;
    return RunCommand(recover_, timeout_, "the recover command");
  }
  std::optional<Duration> Hold() const override { return hold_; }

 private:
  std::vector<std::string> fault_, recover_;
  std::optional<Duration> hold_;
  Duration timeout_;
  bool pending_recover_ = false;
};

}  // namespace

std::unique_ptr<Fault> MakeCommandFault(std::vector<std::string> fault, std::vector<std::string> recover,
                                        std::optional<Duration> hold, Duration timeout) {
  return std::make_unique<CommandFault>(std::move(fault), std::move(recover), hold, timeout);
}

}  // namespace pgw::torture
