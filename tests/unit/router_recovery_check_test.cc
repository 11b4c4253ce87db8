// The write port's not-in-recovery check on servers that do not report in_hot_standby (PostgreSQL < 14), or when
// the query is forced (recovery_check: query): SELECT pg_is_in_recovery() on the new server connection before the
// client is linked, its replies swallowed.
#include <gtest/gtest.h>

#include "pgwire/codec.h"
#include "router/handshake.h"

namespace pgw::router {
namespace {

using Step = ServerHandshake::Step;

std::string AuthOk() {
  std::string b;
  pgwire::AppendInt32(&b, 0);
  return pgwire::EncodeMessage('R', b);
}
std::string Param(const std::string& k, const std::string& v) { return pgwire::EncodeParameterStatus(k, v); }
std::string Ready() { return pgwire::EncodeReadyForQuery('I'); }

// What PostgreSQL answers to SELECT pg_is_in_recovery(): RowDescription, DataRow, CommandComplete, ReadyForQuery.
std::string Answer(const std::string& value) {
  std::string t;
  pgwire::AppendInt16(&t, 1);
  t += std::string("pg_is_in_recovery\0", 18);
  pgwire::AppendInt32(&t, 0);
  pgwire::AppendInt16(&t, 0);
  pgwire::AppendInt32(&t, 16);  // bool
  pgwire::AppendInt16(&t, 1);
  pgwire::AppendInt32(&t, -1);
  pgwire::AppendInt16(&t, 0);
  std::string d;
  pgwire::AppendInt16(&d, 1);
  pgwire::AppendInt32(&d, static_cast<int32_t>(value.size()));
  d += value;
  return pgwire::EncodeMessage('T', t) + pgwire::EncodeMessage('D', d) +
         pgwire::EncodeMessage('C', std::string("SELECT 1\0", 9)) + Ready();
}

TEST(RouterRecoveryCheckTest, OldServerIsAskedAndLinkedWhenNotInRecovery) {
  ServerHandshake hs(/*require_writable=*/true);
  std::string out;
  std::string start = AuthOk() + Param("server_version", "13.12") + Ready();
  EXPECT_EQ(hs.OnServerBytes(start, &out), Step::kCheckRecovery);
  EXPECT_EQ(out, AuthOk());
  EXPECT_TRUE(hs.awaiting_writable());
  // The probe to send is the query, a simple Query message.
  std::string q = hs.NextProbe();
  EXPECT_EQ(q, ServerHandshake::RecoveryQuery());
  EXPECT_EQ(q[0], 'Q');
  EXPECT_NE(q.find("SELECT pg_is_in_recovery()"), std::string::npos);
  hs.ProbeSent();
  out.clear();
  // The answer arrives in two reads; the client sees none of it, only what was held and one ReadyForQuery.
  std::string a = Answer("f");
  EXPECT_EQ(hs.OnServerBytes(a.substr(0, 10), &out), Step::kContinue);
  EXPECT_EQ(hs.OnServerBytes(a.substr(10), &out), Step::kLinked);
  EXPECT_EQ(out, Param("server_version", "13.12") + Ready());
  EXPECT_EQ(hs.in_recovery(), "f");
}

TEST(RouterRecoveryCheckTest, InRecoveryWaitsAndIsAskedAgainUntilPromoted) {
  ServerHandshake hs(true);
  std::string out;
  EXPECT_EQ(hs.OnServerBytes(AuthOk() + Ready(), &out), Step::kCheckRecovery);
  hs.ProbeSent();
  out.clear();
  EXPECT_EQ(hs.OnServerBytes(Answer("t"), &out), Step::kContinue);
  EXPECT_EQ(out, "");
  EXPECT_EQ(hs.probes_outstanding(), 0);
  EXPECT_TRUE(hs.awaiting_writable());
  EXPECT_EQ(hs.NextProbe(), ServerHandshake::RecoveryQuery());  // asked again, not the empty query
  hs.ProbeSent();
  EXPECT_EQ(hs.OnServerBytes(Answer("f"), &out), Step::kLinked);
  EXPECT_EQ(out, Ready());
}

TEST(RouterRecoveryCheckTest, ForcedQueryIsUsedEvenWhenInHotStandbyIsReported) {
  // recovery_check: query (the test hook for the < 14 path on a newer server).
  ServerHandshake hs(true);
  hs.set_recovery_query(true);
  std::string out;
  EXPECT_EQ(hs.OnServerBytes(AuthOk() + Param("in_hot_standby", "off") + Ready(), &out), Step::kCheckRecovery);
  hs.ProbeSent();
  out.clear();
  EXPECT_EQ(hs.OnServerBytes(Answer("f"), &out), Step::kLinked);
  EXPECT_EQ(out, Param("in_hot_standby", "off") + Ready());
  // Without the hook, a server reporting in_hot_standby=off is linked at once.
  ServerHandshake plain(true);
  out.clear();
  EXPECT_EQ(plain.OnServerBytes(AuthOk() + Param("in_hot_standby", "off") + Ready(), &out), Step::kLinked);
  // The read port never asks.
  ServerHandshake read(false);
  read.set_recovery_query(true);
  out.clear();
  EXPECT_EQ(read.OnServerBytes(AuthOk() + Ready(), &out), Step::kLinked);
}

TEST(RouterRecoveryCheckTest, AFailedOrMalformedAnswerIsNotTakenAsWritable) {
  ServerHandshake hs(true);
  std::string out;
  EXPECT_EQ(hs.OnServerBytes(AuthOk() + Ready(), &out), Step::kCheckRecovery);
  hs.ProbeSent();
  pgwire::ErrorFields e;
  e.severity = "ERROR";
  e.sqlstate = "42883";
  e.message = "function pg_is_in_recovery() does not exist";
  out.clear();
  EXPECT_EQ(hs.OnServerBytes(pgwire::EncodeErrorResponse(e) + Ready(), &out), Step::kFailed);
  EXPECT_NE(hs.error().find("pg_is_in_recovery() does not exist"), std::string::npos) << hs.error();
  EXPECT_EQ(out, "");
  // A value that is neither t nor f (or no row): not writable, asked again.
  ServerHandshake odd(true);
  EXPECT_EQ(odd.OnServerBytes(AuthOk() + Ready(), &out), Step::kCheckRecovery);
  odd.ProbeSent();
  EXPECT_EQ(odd.OnServerBytes(Answer("x"), &out), Step::kContinue);
  odd.ProbeSent();
  EXPECT_EQ(odd.OnServerBytes(pgwire::EncodeMessage('C', std::string("SELECT 0\0", 9)) + Ready(), &out),
            Step::kContinue);
  // A truncated DataRow breaks the protocol.
  ServerHandshake bad(true);
  EXPECT_EQ(bad.OnServerBytes(AuthOk() + Ready(), &out), Step::kCheckRecovery);
  bad.ProbeSent();
  EXPECT_EQ(bad.OnServerBytes(pgwire::EncodeMessage('D', std::string("\0\1\0\0\0\5f", 7)), &out), Step::kFailed);
}

}  // namespace
}  // namespace pgw::router
