#include "api/render.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/utterance_input.h"

namespace errata::api {
namespace {
namespace json = boost::json;

// The DOM the v1 utterance answer was built as before UtteranceResultJson:
// RenderUtterance, each error with "resolved_by" unless replayed, then
// "replayed".
json::object ExpectedResult(const WriteOp& op, const std::vector<Resolution>& resolutions) {
  json::object o = RenderUtterance(op.utterance);
  o["replayed"] = op.replayed;
  if (!op.replayed) {
    json::array& errors = o["errors"].as_array();
    for (size_t i = 0; i < errors.size() && i < resolutions.size(); ++i) {
      errors[i].as_object()["resolved_by"] = HowName(resolutions[i].how);
    }
  }
  return o;
}

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

// The answer is the text the DOM serialised to, member for member, for a new
// utterance (with how each error resolved), a replay, and one without content.
TEST(UtteranceResultJson, IsWhatTheDomSerialisedTo) {
  WriteOp op = SampleOp();
  std::vector<Resolution> resolutions(2);
  resolutions[0].how = Resolution::How::kCode;
  resolutions[1].how = Resolution::How::kNormalized;
  EXPECT_EQ(UtteranceResultJson(op, resolutions), json::serialize(ExpectedResult(op, resolutions)));
  const json::value parsed = json::parse(UtteranceResultJson(op, resolutions));
  EXPECT_EQ(parsed.at("errors").at(0).at("span").at("end"), 6);
  EXPECT_EQ(parsed.at("errors").at(1).at("code"), nullptr);
  EXPECT_EQ(parsed.at("content"), "She said \"go\"\n\tcafé \\ done");

  op.replayed = true;
  EXPECT_EQ(UtteranceResultJson(op, resolutions), json::serialize(ExpectedResult(op, resolutions)));
  op.replayed = false;
  op.utterance.content.reset();
  op.utterance.errors.clear();
  EXPECT_EQ(UtteranceResultJson(op, {}), json::serialize(ExpectedResult(op, {})));
}

}  // namespace
}  // namespace errata::api
