// Parsing of an analysed utterance with its errors, as POST /v1/utterances
// and each line of POST /v1/ingest carry it, into a WriteOp. Every error
// label goes through the taxonomy here, once, before the write path.
#pragma once

#include <boost/json/object.hpp>

#include <vector>

#include "api/services.h"
#include "core/taxonomy.h"
#include "store/store.h"

namespace errata::api {

struct ParsedUtterance {
  WriteOp op;
  std::vector<Resolution> resolutions;  // one per error, in order
};

enum class UtteranceMode {
  kV1,      // POST /v1/utterances: ids from the client are optional
  kIngest,  // an ingest line: the user and conversation are created on first sight,
            // and a line without utterance_id gets one derived from its content
};

// Parses `o`. InvalidArgument names the field ("errors[1].subcategory").
// `now` is the request's time. Without created_at the utterance is stored at
// now + `order` µs: an ingest passes each line's index, so that its lines
// keep their order (readers sort by created_at, then by id, and an ingest
// line's derived id is a hash). The fingerprint takes no time then, so a
// retried line still derives the same id and is a replay.
Result<ParsedUtterance> ParseUtterance(const boost::json::object& o, const Services& s,
                                       Micros now, UtteranceMode mode, Micros order = 0);

// Resolves one error label through the taxonomy into `e` (category,
// subcategory, subcategory_id), recording how in *how.
Status ResolveLabel(const Taxonomy& taxonomy, std::string_view category,
                    std::string_view subcategory, std::string_view code, ErrorRecord* e,
                    Resolution* how);

// The /v1 response body for a committed (or replayed) utterance op: the
// utterance's members, each error with "resolved_by" (the resolutions, unless
// replayed), then "replayed".
std::string UtteranceResultJson(const WriteOp& op, const std::vector<Resolution>& resolutions);

}  // namespace errata::api
