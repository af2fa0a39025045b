// Text for Slack's mrkdwn (and the Slack-compatible chats notify: posts to): escaping and links.
#pragma once

#include <string>
#include <string_view>

namespace rollback {

// `text` shown as itself: '&' -> "&amp;", '<' -> "&lt;", '>' -> "&gt;", the three characters Slack reads as
// markup (<!channel>, <https://evil|Open dashboard>, <@U123>). Everything from outside goes through this.
std::string escape_mrkdwn(std::string_view text);

// "<url|label>", a link, for an http:// or https:// URL with a host and no spaces or control characters
// (its '|' percent-encoded, the rest escaped); "" for any other URL (javascript:, slack://, text): such a
// URL is left out of the message rather than shown.
std::string mrkdwn_link(std::string_view url, std::string_view label);

} // namespace rollback
