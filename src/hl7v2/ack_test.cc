#include "hl7v2/ack.h"

#include <gtest/gtest.h>

namespace lhcr::hl7v2 {
namespace {

AckOptions Options() {
  AckOptions o;
  o.control_id = "ACK1";
  o.now = 1709285415000;  // 2024-03-01T09:30:15Z
  return o;
}

Message Parse(std::string_view text) {
  auto m = ParseMessage(text);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

TEST(AckTest, AcceptV24) {
  Message in = Parse("MSH|^~\\&|PAS|RXX|LHCR|REGION|20240301093000||ADT^A01^ADT_A01|C123|P|2.4\r");
  EXPECT_EQ(MakeAck(in, AckCode::kAA, Status::Ok(), Options()),
            "MSH|^~\\&|LHCR|REGION|PAS|RXX|20240301093015+0000||ACK^A01^ACK|ACK1|P|2.4\r"
            "MSA|AA|C123\r");
}

TEST(AckTest, ErrorV251WithLocation) {
  Message in = Parse("MSH|^~\\&|LAB|RXX|LHCR|REGION|20240301093000||ORU^R01^ORU_R01|M9|T|2.5.1\r");
  Status error = Status::Incorrect("PID-3: no usable patient identifier")
                     .WithDetails({{"101", "PID-3", "no usable patient identifier"}});
  EXPECT_EQ(AckCodeFor(error), AckCode::kAE);
  EXPECT_EQ(MakeAck(in, AckCodeFor(error), error, Options()),
            "MSH|^~\\&|LHCR|REGION|LAB|RXX|20240301093015+0000||ACK^R01^ACK|ACK1|T|2.5.1\r"
            "MSA|AE|M9\r"
            "ERR||PID^1^3^1|101^Required field missing^HL70357|E||||PID-3: no usable patient "
            "identifier\r");
}

TEST(AckTest, RejectUnsupportedV23HasErr1AndMsa3) {
  Message in = Parse("MSH|^~\\&|PAS|RXX|LHCR||20240301||SIU^S12|77|P|2.3\r");
  Status error = Status::Unsupported("message type SIU^S12 is not supported")
                     .WithDetails({{"200", "MSH-9", "unsupported"}});
  EXPECT_EQ(AckCodeFor(error), AckCode::kAR);
  EXPECT_EQ(MakeAck(in, AckCodeFor(error), error, Options()),
            "MSH|^~\\&|LHCR||PAS|RXX|20240301093015+0000||ACK^S12|ACK1|P|2.3\r"
            "MSA|AR|77|message type SIU\\S\\S12 is not supported\r"
            "ERR|MSH^1^9^200&Unsupported message type&HL70357|MSH^1^9^1|200^Unsupported message "
            "type^HL70357|E||||message type SIU\\S\\S12 is not supported\r");
}

TEST(AckTest, KeepsTheSendersEncodingAndEscapesTheMessage) {
  Message in = Parse("MSH#$*!@#A#B#C#D#1##ADT$A08#9#P#2.5\r");
  Status error = Status::Fault("disk full # retry");
  std::string ack = MakeAck(in, AckCodeFor(error), error, Options());
  EXPECT_EQ(ack,
            "MSH#$*!@#C#D#A#B#20240301093015+0000##ACK$A08$ACK#ACK1#P#2.5\r"
            "MSA#AE#9\r"
            "ERR###207$Application internal error$HL70357#E####disk full !F! retry\r");
  auto again = ParseMessage(ack);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Get("ERR-8"), "disk full # retry");
}

TEST(AckTest, UnparsableInput) {
  Status error = Status::Incorrect("the message does not start with an MSH segment");
  EXPECT_EQ(MakeAckForUnparsable("garbage", error, Options()),
            "MSH|^~\\&|LHCR||||20240301093015+0000||ACK|ACK1|P|2.5.1\r"
            "MSA|AR|\r"
            "ERR|||102^Data type error^HL70357|E||||the message does not start with an MSH "
            "segment\r");
  // The MSH is readable, a later segment is not: the ACK answers that MSH.
  Status bad_segment = Status::Incorrect("segment 2: 'P@D' is not a segment name")
                           .WithDetails({{"100", "segment 2", "bad segment name"}});
  EXPECT_EQ(MakeAckForUnparsable("MSH|^~\\&|PAS|RXX|LHCR|REG|1||ADT^A01|C9|P|2.5\rP@D|1\r",
                                 bad_segment, Options()),
            "MSH|^~\\&|LHCR|REG|PAS|RXX|20240301093015+0000||ACK^A01^ACK|ACK1|P|2.5\r"
            "MSA|AE|C9\r"
            "ERR|||100^Segment sequence error^HL70357|E||||segment 2: 'P@D' is not a segment "
            "name\r");
}

TEST(AckTest, CodesForStatuses) {
  EXPECT_EQ(AckCodeFor(Status::Ok()), AckCode::kAA);
  EXPECT_EQ(AckCodeFor(Status::Busy("x")), AckCode::kAR);
  EXPECT_EQ(AckCodeFor(Status::Unavailable("x")), AckCode::kAR);
  EXPECT_EQ(AckCodeFor(Status::Conflict("x")), AckCode::kAE);
  EXPECT_EQ(Hl7ErrorCodeFor(Status::Unsupported("x")), "200");
  EXPECT_EQ(Hl7ErrorCodeFor(Status::Incorrect("x")), "102");
  EXPECT_EQ(Hl7ErrorCodeFor(Status::Fault("x")), "207");
  EXPECT_EQ(Hl7ErrorCodeFor(Status::Incorrect("x").WithDetails({{"103", "PV1-2", ""}})), "103");
  EXPECT_EQ(FormatTs(0), "19700101000000+0000");
}

}  // namespace
}  // namespace lhcr::hl7v2
