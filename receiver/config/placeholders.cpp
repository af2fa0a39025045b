// {{placeholder}} checking and substitution for rollback command arguments: one pass, values never
// re-scanned.
#include "config/placeholders.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

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

// How a control character is named in a message: "CR (U+000D)".
std::string control_character_name(unsigned code) {
    static constexpr std::pair<unsigned, const char*> kNames[] = {
        {0x00, "NUL"}, {0x09, "HTAB"}, {0x0a, "LF"}, {0x0d, "CR"}, {0x1b, "ESC"}, {0x7f, "DEL"}};
    char code_point[16];
    std::snprintf(code_point, sizeof code_point, "U+%04X", code);
    for (const auto& [known, name] : kNames)
        if (known == code) return std::string(name) + " (" + code_point + ")";
    return std::string("the control character ") + code_point;
}

} // namespace

Status check_no_control_characters(std::string_view value, bool tab_allowed) {
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto byte = static_cast<unsigned char>(value[i]);
        unsigned code = byte;
        if (byte == 0xc2 && i + 1 < value.size()) { // C1 controls in UTF-8: C2 80 to C2 9F
            const auto next = static_cast<unsigned char>(value[i + 1]);
            if (next < 0x80 || next > 0x9f) continue;
            code = next;
        } else if (byte >= 0x20 && byte != 0x7f) {
            continue;
        } else if (byte == '\t' && tab_allowed) {
            continue;
        }
        return make_error("holds " + control_character_name(code) + " at byte " + std::to_string(i));
    }
    return ok_status();
}

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
