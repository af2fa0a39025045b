// {{placeholder}} substitution inside one argument: pure string work, never splits or evaluates.
#pragma once

#include "common/result.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// The placeholders a rollback action may use.
const std::vector<std::string>& known_placeholders(); // service, environment, deployment_id, version,
                                                      // previous_version, alertname

// Checks that every {{name}} in `text` is known; "{{ name }}" with spaces is accepted. The error names
// the unknown placeholder and lists the known ones.
Status check_placeholders(std::string_view text);

// The rule for a value that came from outside once it is placed where it is used (a header, an argument,
// an environment variable): no control character, i.e. Unicode's Cc — C0 (U+0000-U+001F), DEL (U+007F) and
// C1 (U+0080-U+009F, as UTF-8). A horizontal tab is allowed only when `tab_allowed` (HTTP field values
// may hold one). The error names the character and its byte offset: "holds CR (U+000D) at byte 5".
Status check_no_control_characters(std::string_view value, bool tab_allowed = false);

// Replaces every {{name}} with values.at(name) (missing names become ""). The result is one string:
// values are inserted literally, never re-scanned for placeholders.
std::string expand_placeholders(std::string_view text, const std::map<std::string, std::string>& values);

} // namespace rollback
