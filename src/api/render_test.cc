#include "api/render.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/utterance_input.h"

namespace errata::api {
namespace {
namespace json = boost::json;

WriteOp SampleOp() {
  WriteOp op;
  Utterance& u = op.utterance;
  u.utterance_id = "0193b3f2-0000-7000-8000-000000000001";
  u.conversation_id = "0193b3f2-0000-7000-8000-000000000002";
  u.user_id = "0193b3f2-0000-7000-8000-000000000003";
  u.content = "She said \"go\"\n\tcafé \\ done";
  u.created_at = 1'790'000'000'123'456;
  ErrorRecord full;
  full.error_id = "0193b3f2-0000-7000-8000-000000000004";
  full.category = "Grammar";
  full.subcategory = "Subject-Verb Agreement";
  full.subcategory_id = "subject-verb-agreement";
  full.code = "R:VERB:SVA";
  full.span = Span{4, 6};
  full.original = "go";
  full.correction = "goes";
  full.explanation = "third person \"s\"";
  full.created_at = u.created_at;
  ErrorRecord bare;
  bare.error_id = "0193b3f2-0000-7000-8000-000000000005";
  bare.category = "Vocabulary";
  bare.subcategory = "Word Choice";
  bare.subcategory_id = "word-choice";
  bare.created_at = u.created_at + 1;
  u.errors = {full, bare};
  return op;
}

// The answer, byte for byte, as its boost::json DOM serialised it before
// session 8 wrote it as text: a new utterance (with how each error
// resolved), a replay (no "resolved_by"), and one without content or errors.
TEST(UtteranceResultJson, IsTheTextTheDomGave) {
  WriteOp op = SampleOp();
  std::vector<Resolution> resolutions(2);
  resolutions[0].how = Resolution::How::kCode;
  resolutions[1].how = Resolution::How::kNormalized;
  EXPECT_EQ(UtteranceResultJson(op, resolutions),
            R"json({"utterance_id":"0193b3f2-0000-7000-8000-000000000001","conversation_id":"0193b3f2-0000-7000-8000-000000000002","user_id":"0193b3f2-0000-7000-8000-000000000003","content":"She said \"go\"\n\tcafé \\ done","created_at":"2026-09-21T14:13:20.123456Z","errors":[{"error_id":"0193b3f2-0000-7000-8000-000000000004","category":"Grammar","subcategory":"Subject-Verb Agreement","subcategory_id":"subject-verb-agreement","code":"R:VERB:SVA","original":"go","correction":"goes","explanation":"third person \"s\"","created_at":"2026-09-21T14:13:20.123456Z","span":{"start":4,"end":6},"resolved_by":"code"},{"error_id":"0193b3f2-0000-7000-8000-000000000005","category":"Vocabulary","subcategory":"Word Choice","subcategory_id":"word-choice","code":null,"original":null,"correction":null,"explanation":null,"created_at":"2026-09-21T14:13:20.123457Z","span":null,"resolved_by":"normalized"}],"replayed":false})json");
  const json::value parsed = json::parse(UtteranceResultJson(op, resolutions));
  EXPECT_EQ(parsed.at("errors").at(0).at("span").at("end"), 6);
  EXPECT_EQ(parsed.at("errors").at(1).at("code"), nullptr);
  EXPECT_EQ(parsed.at("content"), "She said \"go\"\n\tcafé \\ done");

  op.replayed = true;
  EXPECT_EQ(UtteranceResultJson(op, resolutions),
            R"json({"utterance_id":"0193b3f2-0000-7000-8000-000000000001","conversation_id":"0193b3f2-0000-7000-8000-000000000002","user_id":"0193b3f2-0000-7000-8000-000000000003","content":"She said \"go\"\n\tcafé \\ done","created_at":"2026-09-21T14:13:20.123456Z","errors":[{"error_id":"0193b3f2-0000-7000-8000-000000000004","category":"Grammar","subcategory":"Subject-Verb Agreement","subcategory_id":"subject-verb-agreement","code":"R:VERB:SVA","original":"go","correction":"goes","explanation":"third person \"s\"","created_at":"2026-09-21T14:13:20.123456Z","span":{"start":4,"end":6}},{"error_id":"0193b3f2-0000-7000-8000-000000000005","category":"Vocabulary","subcategory":"Word Choice","subcategory_id":"word-choice","code":null,"original":null,"correction":null,"explanation":null,"created_at":"2026-09-21T14:13:20.123457Z","span":null}],"replayed":true})json");
  op.replayed = false;
  op.utterance.content.reset();
  op.utterance.errors.clear();
  EXPECT_EQ(UtteranceResultJson(op, {}),
            R"json({"utterance_id":"0193b3f2-0000-7000-8000-000000000001","conversation_id":"0193b3f2-0000-7000-8000-000000000002","user_id":"0193b3f2-0000-7000-8000-000000000003","content":null,"created_at":"2026-09-21T14:13:20.123456Z","errors":[],"replayed":false})json");
}

}  // namespace
}  // namespace errata::api
