#include "core/email.h"

namespace errata {

bool IsValidEmail(std::string_view e) {
  if (e.size() < 3 || e.size() > 254) return false;
  const size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || e.find('@', at + 1) != e.npos) {
    return false;
  }
  for (unsigned char c : e) {
    if (c <= ' ' || c == 0x7f || c == '(' || c == ')' || c == ',' || c == ';' || c == '<' ||
        c == '>' || c == '[' || c == ']' || c == '\\' || c == '"') {
      return false;
    }
  }
  const std::string_view domain = e.substr(at + 1);
  const size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 2 > domain.size()) return false;
  if (domain.front() == '-' || domain.find("..") != domain.npos) return false;
  const std::string_view local = e.substr(0, at);
  return local.front() != '.' && local.back() != '.' && local.find("..") == local.npos;
}

}  // namespace errata
