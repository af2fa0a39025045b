// Unit tests for configured_secret_values: every secret a config holds or names, and nothing else.
#include "config/secret_values.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace rollback {
namespace {

TEST_CASE("configured secrets: tokens, secret header files and credential headers, the GitHub token, URL "
          "secrets") {
    testing::TempDir dir;
    dir.write("secrets/api-token", "api-token-0123456789\n");
    dir.write("secrets/webhook-token", "webhook-token-0123456789\n");
    dir.write("secrets/read-token", "read-token-0123456789\n");
    dir.write("secrets/deploy-token", "deploy-token-0123456789\n");
    dir.write("secrets/github-token", "ghp_github0123456789\n");
    dir.write("secrets/chat-token", "chat-token-0123456789\n");
    const std::string config_path = dir.write(
        "receiver.yml",
        "auth:\n"
        "  webhook_token_file: secrets/webhook-token\n"
        "  api_token_file: secrets/api-token\n"
        "  read_token_file: secrets/read-token\n"
        "notify:\n"
        "  - https://hooks.slack.com/services/T0/B0/XYZ\n"
        "  - url: https://chat.example/\n"
        "    headers: {Authorization: {file: secrets/chat-token, prefix: \"Bearer \"}}\n"
        "services:\n"
        "  checkout:\n"
        "    rollback:\n"
        "      webhook:\n"
        "        url: \"https://deploy.example/hooks/{{service}}?token=query-secret-1&service={{service}}\"\n"
        "        headers:\n"
        "          Authorization: {file: secrets/deploy-token, prefix: \"Bearer \"}\n"
        "          X-Api-Key: \"literal-key-0123{{service}}tail-part\"\n"
        "          X-Rollback-Alert: \"{{alertname}}-not-a-secret\"\n"
        "  cart:\n"
        "    rollback:\n"
        "      github_workflow: {repository: o/cart, workflow: rollback.yml, ref: main,\n"
        "                        token_file: secrets/github-token}\n");
    const auto loaded = load_config(config_path);
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error()));
    std::vector<std::string> values;
    for (const SecretValue& secret : configured_secret_values(*loaded))
        values.push_back(secret.value);
    std::sort(values.begin(), values.end());
    CHECK(values == std::vector<std::string>{
                        "/services/T0/B0/XYZ", "api-token-0123456789", "chat-token-0123456789",
                        "deploy-token-0123456789", "ghp_github0123456789", "literal-key-0123",
                        "query-secret-1", "read-token-0123456789", "tail-part", "webhook-token-0123456789"});
}

TEST_CASE("dsn_password: the password of a connection string or URI, nothing else of it") {
    struct Row {
        const char* dsn;
        const char* password;
    };
    const Row rows[] = {
        {"host=127.0.0.1 port=5432 dbname=ledger user=receiver password=s3cret-pass", "s3cret-pass"},
        {"password = 'two words\\' and \\\\ more' host=db", "two words' and \\ more"},
        {"host=db user=receiver", ""},
        {"postgresql://receiver:uri-pass@db:5432/ledger?sslmode=require", "uri-pass"},
        {"postgres://receiver@db/ledger?sslmode=require&password=query-pass", "query-pass"},
        {"postgresql://db/ledger", ""},
        {"", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.dsn);
        CHECK(dsn_password(row.dsn) == row.password);
    }
}

TEST_CASE("is_credential_header: the names whose literal values are secrets") {
    for (const char* name : {"Authorization", "proxy-authorization", "Cookie", "X-Api-Key", "X-Auth-Token",
                             "X-Hub-Signature", "X-Secret", "X-Session-Id", "X-Password"})
        CHECK_MESSAGE(is_credential_header(name), name);
    for (const char* name : {"X-Rollback-Alert", "Content-Type", "Accept", "User-Agent", "X-Request-Id"})
        CHECK_FALSE_MESSAGE(is_credential_header(name), name);
}

} // namespace
} // namespace rollback
