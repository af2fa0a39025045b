// Reading whole files and secret files (tokens, secret headers, DSNs): one reader, one set of messages.
#pragma once

#include "common/result.hpp"

#include <string>

namespace rollback {

// The file's whole content; the error names the file and errno's reason.
Result<std::string> read_file(const std::string& path);

// A secret kept in a file: its content without surrounding whitespace, which must be one non-empty line.
// Errors name the file, never its content.
Result<std::string> read_secret_file(const std::string& path);

} // namespace rollback
