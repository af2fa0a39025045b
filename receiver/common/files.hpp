// Reading whole files and secret files (tokens, secret headers, DSNs): one reader, one set of messages; the
// modes of the files the receiver keeps secrets in and writes its records to.
#pragma once

#include "common/result.hpp"
#include "common/unique_fd.hpp"

#include <string>

namespace rollback {

// The file's whole content; the error names the file and errno's reason.
Result<std::string> read_file(const std::string& path);

// A secret kept in a file: its content without surrounding whitespace, which must be one non-empty line.
// Errors name the file, never its content.
Result<std::string> read_secret_file(const std::string& path);

// An error when the file (a symbolic link followed) is writable by its group or by others: whoever can
// write a token, key or CA file can let themselves in. The message names the file, its mode and the fix
// ("chmod go-w <file>").
Status check_not_writable_by_others(const std::string& path);

// Creates `folder` and any missing parents, each created one 0700 whatever the umask; folders that exist
// keep their mode. An empty folder is the current one: nothing to do.
Status create_private_folders(const std::string& folder);

// Opens `path` with `flags` (O_RDWR, O_WRONLY | O_APPEND, ...; O_CLOEXEC is added), creating it 0600
// whatever the umask when it does not exist; an existing file keeps its mode.
Result<UniqueFd> open_private_file(const std::string& path, int flags);

} // namespace rollback
