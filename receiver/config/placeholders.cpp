// {{placeholder}} checking and substitution for rollback command arguments: one pass, values never
// re-scanned.
#include "config/placeholders.hpp"

#include <algorithm>

namespace rollback {
namespace {

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";

std::string_view trim_blanks(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

// Walks `text` once, calling on_literal(text piece) and on_placeholder(whole "{{ name }}", trimmed name) in
// order. Returns the position of an unclosed "{{" (the rest is then passed to on_literal), or npos.
template <typename OnLiteral, typename OnPlaceholder>
std::size_t scan_placeholders(std::string_view text, OnLiteral on_literal, OnPlaceholder on_placeholder) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t open = text.find(kOpen, pos);
        if (open == std::string_view::npos) break;
        const std::size_t close = text.find(kClose, open + kOpen.size());
        if (close == std::string_view::npos) {
            on_literal(text.substr(pos));
            return open;
        }
        on_literal(text.substr(pos, open - pos));
        const std::string_view whole = text.substr(open, close + kClose.size() - open);
        on_placeholder(whole, trim_blanks(text.substr(open + kOpen.size(), close - open - kOpen.size())));
        pos = close + kClose.size();
    }
    if (pos < text.size()) on_literal(text.substr(pos));
    return std::string_view::npos;
}

std::string known_list() {
    std::string list;
    for (const auto& name : known_placeholders()) {
        if (!list.empty()) list += ", ";
        list += "{{" + name + "}}";
    }
    return list;
}

} // namespace

const std::vector<std::string>& known_placeholders() {
    static const std::vector<std::string> names{"service", "environment",      "deployment_id",
                                                "version", "previous_version", "alertname"};
    return names;
}

Status check_placeholders(std::string_view text) {
    const auto& known = known_placeholders();
    std::string_view unknown;
    const std::size_t unclosed = scan_placeholders(
        text, [](std::string_view) {},
        [&](std::string_view whole, std::string_view name) {
            if (unknown.empty() && std::find(known.begin(), known.end(), name) == known.end())
                unknown = whole;
        });
    if (!unknown.empty())
        return make_error("unknown placeholder " + std::string(unknown) + " in \"" + std::string(text) +
                          "\" (known: " + known_list() + ")");
    if (unclosed != std::string_view::npos)
        return make_error("unclosed {{ in \"" + std::string(text) + "\" at position " +
                          std::to_string(unclosed) +
                          ": close it with }} (known placeholders: " + known_list() + ")");
    return ok_status();
}

std::string expand_placeholders(std::string_view text, const std::map<std::string, std::string>& values) {
    std::string expanded;
    expanded.reserve(text.size());
    scan_placeholders(
        text, [&](std::string_view literal) { expanded += literal; },
        [&](std::string_view, std::string_view name) {
            auto it = values.find(std::string(name));
            if (it != values.end()) expanded += it->second;
        });
    return expanded;
}

} // namespace rollback
