// The REST handlers (agent/api_handlers.h) over a fake AgentControl: routing, status codes and what each request
// asks of the agent, without an agent, etcd or PostgreSQL.
#include "agent/api_handlers.h"

#include <gtest/gtest.h>

#include <deque>

#include "test_util.h"

namespace pgw {
namespace {

class FakeControl final : public AgentControl {
 public:
  ControlSnapshot Snapshot() override {
    ++snapshots;
    return snap;
  }
  api::Counters MetricsCounters() override { return counters; }
  bool Stopping() const override { return false; }
  void RequestWake() override { ++wakes; }
  void VouchFailsafe() override { ++vouches; }
  void RequestReinitialize() override { ++reinits; }
  std::optional<uint64_t> RequestRestart() override {
    if (restart_requested) return std::nullopt;
    restart_requested = true;
    return restarts.finished;
  }
  RestartProgress Restarts() const override { return restarts; }
  bool ScheduleRestart(double at) override {
    if (scheduled_restart != 0) return false;
    scheduled_restart = at;
    return true;
  }
  bool CancelScheduledRestart() override {
    bool had = scheduled_restart != 0;
    scheduled_restart = 0;
    return had;
  }
  // Each read takes the next queued view; the last one stays.
  Result<ClusterView> ReadCluster() override {
    ++reads;
    if (reads_fail) return Unavailable("etcd is down");
    ClusterView v = views.front();
    if (views.size() > 1) views.pop_front();
    return v;
  }
  std::vector<ha::PeerStatus> CheckMembers(const ClusterView&, const std::vector<std::string>& names) override {
    checked = names;
    return peer_statuses;
  }
  Status WriteFailover(const std::string& json) override {
    failover_written = json;
    return Status::Ok();
  }
  Status DeleteFailover() override {
    ++failover_deletes;
    return Status::Ok();
  }
  Status WriteConfig(const std::string& json, int64_t expect) override {
    config_written = json;
    config_expect = expect;
    return config_write_status;
  }
  std::vector<std::string> ReloadConfig() override {
    ++reloads;
    return reload_errors;
  }

  ControlSnapshot snap;
  api::Counters counters;
  int snapshots = 0, wakes = 0, vouches = 0, reinits = 0, reads = 0, failover_deletes = 0, reloads = 0;
  bool restart_requested = false, reads_fail = false;
  RestartProgress restarts;
  double scheduled_restart = 0;
  std::deque<ClusterView> views;
  std::vector<std::string> checked;
  std::vector<ha::PeerStatus> peer_statuses;
  std::string failover_written, config_written;
  int64_t config_expect = -1;
  Status config_write_status = Status::Ok();
  std::vector<std::string> reload_errors;
};

class ApiHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override { UseConfig(testing::kGoodConfig); }
  void UseConfig(const std::string& yaml) {
    auto r = testing::Load(yaml);
    ASSERT_TRUE(r.errors.empty()) << r.errors.front();
    cfg_ = r.config;
    ctl_.snap.cfg = cfg_.get();
    ctl_.snap.generation = 1;
    cluster_ = std::make_shared<ClusterView>(testing::LeaderAndTwoReplicas(3000, 100, 200));
    cluster_->config = Json{{"ttl", 30}, {"loop_wait", 10}, {"retry_timeout", 10}};
    cluster_->config_mod_revision = 7;
    ctl_.snap.cluster = cluster_;
    ctl_.views = {*cluster_};
    AsPrimaryLeader();
  }
  // pg0 (this node, see kGoodConfig) runs PostgreSQL as primary and holds the leader key.
  void AsPrimaryLeader() {
    NodeState& s = ctl_.snap.state;
    s = NodeState{};
    s.pg_state = ha::PgState::kRunning;
    s.local.data = LocalView::Data::kValid;
    s.local.running = s.local.query_ok = true;
    s.local.timeline = 1;
    s.local.wal_position = 3000;
    s.is_leader = true;
    s.dcs_ok = true;
  }
  void AsReplica() {
    AsPrimaryLeader();
    NodeState& s = ctl_.snap.state;
    s.is_leader = false;
    s.local.in_recovery = true;
    s.local.replication_state = "streaming";
    cluster_->leader = LeaderKey{"pg1", 1, 5, 5};
    ctl_.views = {*cluster_};
  }
  HttpServerResponse Call(const std::string& method, const std::string& target, const std::string& body = "",
                          bool with_length = true) {
    HttpServerRequest req;
    req.method = method;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.body = body;
    req.peer = "127.0.0.1";
    if (with_length && (method != "GET" || !body.empty())) req.headers["content-length"] = std::to_string(body.size());
    return handlers_.Handle(req);
  }
  // Runs the deferred job, as a server worker would, when the handler returned one.
  static HttpServerResponse Finish(const HttpServerResponse& r) { return r.deferred ? Finish(r.deferred()) : r; }
  HttpServerResponse Run(const std::string& method, const std::string& target, const std::string& body = "") {
    return Finish(Call(method, target, body));
  }

  std::shared_ptr<const Config> cfg_;
  std::shared_ptr<ClusterView> cluster_;
  FakeControl ctl_;
  RealClock clock_;  // the switchover and restart waits poll on it; every test here ends them at the first poll
  Logger log_{stderr, LogLevel::kError};
  ApiHandlers handlers_{ctl_, clock_, log_};
};

TEST_F(ApiHandlersTest, PrimaryChecksFollowTheRoleAndTheLeaderKey) {
  EXPECT_EQ(Call("GET", "/primary").status, 200);
  EXPECT_EQ(Call("GET", "/").status, 200);
  EXPECT_EQ(Call("GET", "/leader").status, 200);
  EXPECT_EQ(Call("GET", "/replica").status, 503);
  EXPECT_EQ(Call("GET", "/read-only").status, 200);
  // Primary without the leader key: not a primary for HAProxy.
  ctl_.snap.state.is_leader = false;
  EXPECT_EQ(Call("GET", "/primary").status, 503);
  AsReplica();
  EXPECT_EQ(Call("GET", "/primary").status, 503);
  EXPECT_EQ(Call("GET", "/replica").status, 200);
  EXPECT_EQ(Call("GET", "/replica?lag=1MB").status, 200);
  EXPECT_EQ(Call("GET", "/async").status, 200);
  EXPECT_EQ(Call("GET", "/sync").status, 503);
}

TEST_F(ApiHandlersTest, HealthIsAboutPostgreSQLRunning) {
  EXPECT_EQ(Call("GET", "/health").status, 200);
  ctl_.snap.state.pg_state = ha::PgState::kStopped;
  ctl_.snap.state.local.running = ctl_.snap.state.local.query_ok = false;
  ++ctl_.snap.generation;
  HttpServerResponse r = Call("GET", "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json::parse(r.body)["state"], "stopped");
  EXPECT_EQ(Call("GET", "/primary").status, 503);
}

TEST_F(ApiHandlersTest, PatroniAnswersTheStatusJsonAndUnknownPathsAre503) {
  HttpServerResponse r = Call("GET", "/patroni");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["role"], "primary");
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["patroni"]["name"], "pg0");
  EXPECT_EQ(Call("GET", "/no-such-check").status, 503);
  // HEAD and OPTIONS: the code of the same check, the status line alone.
  r = Call("HEAD", "/replica");
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.status_line_only);
  EXPECT_FALSE(Call("GET", "/replica").status_line_only);
}

TEST_F(ApiHandlersTest, StatusJsonIsRenderedAgainOnlyForANewPublication) {
  std::string first = Call("GET", "/patroni").body;
  ctl_.snap.state.local.timeline = 9;  // not published: same generation, the cached body
  EXPECT_EQ(Call("GET", "/patroni").body, first);
  ++ctl_.snap.generation;
  EXPECT_EQ(Json::parse(Call("GET", "/patroni").body)["timeline"], 9);
  // What the handler learns per request (failsafe by the clocks) renders it again as well.
  ctl_.snap.state.failsafe_active = true;
  EXPECT_EQ(Json::parse(Call("GET", "/patroni").body)["failsafe_mode_is_active"], true);
}

TEST_F(ApiHandlersTest, SyncStandbyComesFromTheView) {
  AsReplica();
  cluster_->sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg0"}});
  EXPECT_EQ(Call("GET", "/sync").status, 200);
  EXPECT_EQ(Call("GET", "/async").status, 503);
  EXPECT_EQ(Json::parse(Call("GET", "/patroni").body)["sync_standby"], true);
}

TEST_F(ApiHandlersTest, LivenessAndReadinessAreStatusLinesOnly) {
  HttpServerResponse r = Call("GET", "/liveness");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.status_line_only);
  ctl_.snap.loop_alive = false;
  EXPECT_EQ(Call("GET", "/liveness").status, 503);
  EXPECT_EQ(Call("GET", "/readiness").status, 200);
}

TEST_F(ApiHandlersTest, WithoutAViewTheClusterEndpointsSay503Or502) {
  ctl_.snap.cluster = nullptr;
  EXPECT_EQ(Call("GET", "/cluster").status, 503);
  EXPECT_EQ(Call("GET", "/config").status, 502);
  EXPECT_EQ(Call("GET", "/failovers").status, 503);
  EXPECT_EQ(Call("GET", "/history").body, "[]");
  ctl_.snap.cluster = cluster_;
  EXPECT_EQ(Call("GET", "/cluster").status, 200);
  EXPECT_EQ(Json::parse(Call("GET", "/config").body)["ttl"], 30);
}

TEST_F(ApiHandlersTest, MetricsUseTheCounters) {
  ctl_.counters.promotions = 3;
  HttpServerResponse r = Call("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("pgwarden_promotions_total{scope=\"demo\",name=\"pg0\"} 3"), std::string::npos) << r.body;
}

TEST_F(ApiHandlersTest, RestartWaitsForTheLoopToFinishIt) {
  HttpServerResponse r = Call("POST", "/restart");
  ASSERT_TRUE(r.deferred);
  EXPECT_TRUE(ctl_.restart_requested);
  EXPECT_EQ(Call("POST", "/restart").body, "restart already in progress");
  ctl_.restarts = RestartProgress{1, true};  // the loop finished it
  r = Finish(r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "restarted successfully");
  EXPECT_GE(ctl_.wakes, 1);
  // Finished before the waiting job even started: still seen as done (the count is taken with the request).
  ctl_.restart_requested = false;
  r = Call("POST", "/restart", R"({"timeout": 1})");
  ctl_.restarts = RestartProgress{2, true};
  EXPECT_EQ(Finish(r).body, "restarted successfully");
  // A failed restart is reported as such.
  ctl_.restart_requested = false;
  r = Call("POST", "/restart", R"({"timeout": 1})");
  ctl_.restarts = RestartProgress{3, false};
  EXPECT_EQ(Finish(r).body, "restart failed");
}

TEST_F(ApiHandlersTest, RestartFiltersAreChecked) {
  EXPECT_EQ(Call("POST", "/restart", R"({"bogus": 1})").status, 400);
  EXPECT_EQ(Call("POST", "/restart", "not json").status, 400);
  EXPECT_EQ(Call("POST", "/restart", R"({"role": "leader"})").status, 400);
  EXPECT_EQ(Call("POST", "/restart", R"({"role": "replica"})").status, 503);
  EXPECT_EQ(Call("POST", "/restart", R"({"restart_pending": true})").status, 503);
  // Patroni's truthiness; a string used to throw out of the handler.
  EXPECT_EQ(Call("POST", "/restart", R"({"restart_pending": "yes"})").status, 503);
  EXPECT_EQ(Call("POST", "/restart", R"({"timeout": -1})").status, 400);
  EXPECT_FALSE(ctl_.restart_requested);
  ctl_.snap.state.pg_state = ha::PgState::kStarting;
  EXPECT_EQ(Call("POST", "/restart").body, "postgres is still starting");
  EXPECT_FALSE(ctl_.restart_requested);
}

TEST_F(ApiHandlersTest, ScheduledRestartIsOneAtATime) {
  EXPECT_EQ(Call("POST", "/restart", R"({"schedule": "2001-01-01T00:00:00+00:00"})").status, 422);
  EXPECT_EQ(Call("POST", "/restart", R"({"schedule": "2999-01-01T00:00:00"})").status, 400);  // no zone
  EXPECT_EQ(Call("POST", "/restart", R"({"schedule": "2999-01-01T00:00:00+00:00"})").status, 202);
  EXPECT_GT(ctl_.scheduled_restart, 0);
  EXPECT_EQ(Call("POST", "/restart", R"({"schedule": "2999-01-02T00:00:00+00:00"})").status, 409);
  EXPECT_EQ(Call("DELETE", "/restart").status, 200);
  EXPECT_EQ(Call("DELETE", "/restart").status, 404);
  ctl_.snap.state.paused = true;
  EXPECT_EQ(Call("POST", "/restart", R"({"schedule": "2999-01-01T00:00:00+00:00"})").status, 500);
}

TEST_F(ApiHandlersTest, FailsafeVouchingNeedsAMemberSender) {
  AsReplica();
  EXPECT_EQ(Call("POST", "/failsafe", R"({"name": "pg1"})").status, 502);  // failsafe mode off
  ctl_.snap.failsafe_enabled = true;
  EXPECT_EQ(Call("POST", "/failsafe", R"({"name": "stranger"})").status, 403);
  EXPECT_EQ(Call("POST", "/failsafe", R"({"name": "pg0"})").status, 403);  // our own name
  EXPECT_EQ(Call("POST", "/failsafe", R"({"name": "pg1"})", false).status, 411);
  EXPECT_EQ(Call("POST", "/failsafe", R"(["pg1"])").status, 400);
  EXPECT_EQ(ctl_.vouches, 0);
  // Without a view the loop's copy of the failsafe key decides.
  ctl_.snap.cluster = nullptr;
  EXPECT_EQ(Call("POST", "/failsafe", R"({"name": "pg1"})").status, 503);
  ctl_.snap.failsafe_members = FailsafeTopology{{"pg1", "http://127.0.0.1:6433/patroni"}};
  EXPECT_EQ(Call("POST", "/failsafe", R"({"name": "pg2"})").status, 403);
  EXPECT_EQ(ctl_.vouches, 0);
  HttpServerResponse r = Call("POST", "/failsafe", R"({"name": "pg1"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Accepted");
  EXPECT_EQ(ctl_.vouches, 1);
  EXPECT_EQ(Call("GET", "/failsafe").status, 200);
  // A primary never accepts.
  AsPrimaryLeader();
  EXPECT_EQ(Call("POST", "/failsafe", R"({"name": "pg1"})").status, 500);
}

TEST_F(ApiHandlersTest, ConfigPatchRefusesBadInputAndWritesWithCompareAndSwap) {
  EXPECT_EQ(Call("PATCH", "/config", "{not json").status, 400);
  EXPECT_EQ(Call("PATCH", "/config", "[1]").status, 400);
  EXPECT_EQ(Call("PATCH", "/config", R"({"ttl": 40})", false).status, 411);
  EXPECT_EQ(Run("PATCH", "/config", R"({"loop_wait": "soon"})").status, 400);
  EXPECT_EQ(Run("PATCH", "/config", R"({"ttl": 30})").status, 200);  // unchanged: not written again
  EXPECT_TRUE(ctl_.config_written.empty());
  HttpServerResponse r = Run("PATCH", "/config", R"({"ttl": 40, "retry_timeout": null})");
  EXPECT_EQ(r.status, 200);
  Json written = Json::parse(ctl_.config_written);
  EXPECT_EQ(written["ttl"], 40);
  EXPECT_FALSE(written.contains("retry_timeout"));
  EXPECT_EQ(ctl_.config_expect, 7);
  EXPECT_EQ(Json::parse(r.body), written);
  ctl_.config_write_status = Status(Code::kConflict, "moved");
  EXPECT_EQ(Run("PATCH", "/config", R"({"ttl": 50})").status, 409);
  ctl_.reads_fail = true;
  EXPECT_EQ(Run("PATCH", "/config", R"({"ttl": 50})").status, 503);
}

TEST_F(ApiHandlersTest, ConfigPutReplacesUnconditionally) {
  EXPECT_EQ(Run("PUT", "/config", R"({"ttl": 20, "loop_wait": 5, "retry_timeout": 5})").status, 200);
  EXPECT_EQ(ctl_.config_expect, 0);
  ctl_.config_write_status = Unavailable("etcd is down");
  EXPECT_EQ(Run("PUT", "/config", R"({"ttl": 21, "loop_wait": 5, "retry_timeout": 5})").status, 502);
}

TEST_F(ApiHandlersTest, SwitchoverWritesTheKeyAndWaitsForTheNewLeader) {
  EXPECT_EQ(Run("POST", "/switchover", R"({"leader": "pg0", "candidate": "pgX"})").status, 412);
  EXPECT_EQ(Run("POST", "/switchover", R"({"leader": "pg1"})").body, "leader name does not match");
  EXPECT_TRUE(ctl_.failover_written.empty());
  ClusterView after = *cluster_;
  after.leader = LeaderKey{"pg2", 2, 9, 9};
  ctl_.views = {*cluster_, after};
  ha::PeerStatus fit;
  fit.name = "pg2";
  fit.reachable = true;
  ctl_.peer_statuses = {fit};
  HttpServerResponse r = Run("POST", "/switchover", R"({"leader": "pg0", "candidate": "pg2"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Successfully switched over to \"pg2\"");
  EXPECT_EQ(ctl_.checked, std::vector<std::string>{"pg2"});
  EXPECT_EQ(Json::parse(ctl_.failover_written), (Json{{"leader", "pg0"}, {"member", "pg2"}}));
  // No fit candidate: refused before anything is written.
  ctl_.failover_written.clear();
  ctl_.views = {*cluster_};
  ctl_.peer_statuses[0].nofailover = true;
  EXPECT_EQ(Run("POST", "/switchover", R"({"leader": "pg0"})").status, 412);
  EXPECT_TRUE(ctl_.failover_written.empty());
}

TEST_F(ApiHandlersTest, ReinitializeOnlyOnAReplicaWithALeader) {
  EXPECT_EQ(Call("POST", "/reinitialize").body, "I am the leader, can not reinitialize");
  AsReplica();
  cluster_->leader.reset();
  EXPECT_EQ(Call("POST", "/reinitialize").status, 503);
  EXPECT_EQ(ctl_.reinits, 0);
  cluster_->leader = LeaderKey{"pg1", 1, 5, 5};
  EXPECT_EQ(Call("POST", "/reinitialize").status, 200);
  EXPECT_EQ(ctl_.reinits, 1);
}

TEST_F(ApiHandlersTest, ReloadReportsAnInvalidConfiguration) {
  EXPECT_EQ(Run("POST", "/reload").status, 202);
  ctl_.reload_errors = {"ttl: must be a number"};
  HttpServerResponse r = Run("POST", "/reload");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("ttl: must be a number"), std::string::npos);
  EXPECT_EQ(ctl_.reloads, 2);
}

TEST_F(ApiHandlersTest, UnsafeMethodsAreCheckedForAccess) {
  UseConfig(
      testing::Replace(testing::kGoodConfig, "restapi:\n", "restapi:\n  authentication: {username: u, password: p}\n"));
  EXPECT_EQ(Call("GET", "/patroni").status, 200);
  EXPECT_EQ(Call("POST", "/restart").status, 401);
  EXPECT_EQ(Call("DELETE", "/switchover").status, 401);
  EXPECT_FALSE(ctl_.restart_requested);
  EXPECT_EQ(Call("TRACE", "/patroni").status, 501);
}

}  // namespace
}  // namespace pgw
