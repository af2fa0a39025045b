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

// Replaces every {{name}} with values.at(name) (missing names become ""). The result is one string:
// values are inserted literally, never re-scanned for placeholders.
std::string expand_placeholders(std::string_view text, const std::map<std::string, std::string>& values);

} // namespace rollback
