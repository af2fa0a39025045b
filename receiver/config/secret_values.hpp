// Every secret value a loaded config holds or names, listed once, so the trail and the logs can scrub them.
#pragma once

#include "config/config.hpp"

#include <string>
#include <vector>

namespace rollback {

// One secret value and the config key it comes from (for a message that names the key, never the value).
struct SecretValue {
    std::string key; // e.g. "auth.api_token_file", "services.checkout.rollback.webhook.headers.Authorization"
    std::string value; // the secret itself, or one literal part of it (see configured_secret_values)
};

// True for a header whose literal value is a credential: Authorization, Proxy-Authorization, Cookie, and any
// name holding "token", "secret", "key", "auth", "password", "signature" or "session" (case-insensitive).
bool is_credential_header(std::string_view name);

// What configured_secret_values lists, in the config's order (duplicates left out):
// - the tokens the receiver holds (auth.*_token_file, already read into loaded.secrets);
// - every header read from a file (its content, read now) and the literal value of every credential
//   header, of webhook actions and notify: targets;
// - the github_workflow action's token_file (read now);
// - the path and query of every notify: URL (a chat webhook's path is its secret) and the query's values of
//   every webhook action URL;
// - the password in ledger.postgres.dsn_file's connection string.
// A literal value with {{placeholders}} is listed as its literal parts between them (the placeholders'
// values come from outside and are not secrets). A file that cannot be read now is left out: load_config
// checked it, and the call that reads it later fails on it instead.
// A secret file rotated after the load is listed again at the next reload (SIGHUP, POST /-/reload).
std::vector<SecretValue> configured_secret_values(const LoadedConfig& loaded);

// The password of a libpq connection string ("... password=x ...", quoted or not) or URI
// ("postgresql://user:x@host/db", or "?password=x"); empty when it names none.
std::string dsn_password(std::string_view dsn);

} // namespace rollback
