// Fuzz target: parse_config, the parser of the YAML configuration file (yaml-cpp, then our checks).
#include "config/config.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollback::fuzz {
namespace {

void check_config(std::string_view yaml_text) {
    const auto parsed = parse_config(yaml_text, "fuzz.yml", "/etc/rollback-receiver");
    if (!parsed) {
        require(parsed.error().rfind("fuzz.yml", 0) == 0, "a config error names the file", parsed.error());
        return;
    }
    // An accepted config is usable: every service the daemon may see has settings.
    for (const auto& [service, settings] : parsed->services) {
        require(&parsed->settings_for(service) == &settings, "settings_for finds a configured service",
                service);
        // One action at most, and has_action agrees with it.
        const RollbackSettings& rollback = settings.rollback;
        const int actions = int(!rollback.command.empty()) + int(rollback.webhook.has_value()) +
                            int(rollback.github_workflow.has_value());
        require(actions <= 1, "a service has one rollback action", service);
        require(rollback.has_action() == !rollback.action_kind().empty(), "action_kind names the action",
                service);
    }
}

} // namespace
} // namespace rollback::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rollback::fuzz::check_config(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
