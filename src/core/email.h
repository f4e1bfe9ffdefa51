// Email address validation, as strict as the original service's (pydantic
// EmailStr) in the cases that matter: one '@', a non-empty local part, a
// dotted domain, no spaces or control characters.
#pragma once

#include <string_view>

namespace errata {

bool IsValidEmail(std::string_view email);

}  // namespace errata
