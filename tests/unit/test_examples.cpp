// Keeps examples/github-actions true: its rollbackctl command lines parse, and the workflows fit together.
#include "config/placeholders.hpp"
#include "ctl/args.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace rollback {
namespace {

const std::string kExamplesDir = std::string(ROLLBACK_SOURCE_DIR) + "/examples/github-actions/";

std::string read_example(const std::string& name) {
    std::ifstream in(kExamplesDir + name, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << kExamplesDir << name);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

std::size_t indentation_of(const std::string& line) {
    return line.find_first_not_of(' ') == std::string::npos ? line.size() : line.find_first_not_of(' ');
}

std::string trimmed(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// A rollbackctl command line found in an example: where it starts and its text, continuations joined.
struct CommandLine {
    std::string file;
    int line = 0;
    std::string text;
};

// Every command line that starts with "rollbackctl " (after indentation), with "\" line continuations
// joined. In Markdown only lines inside ```sh blocks count: prose and diagrams are not commands.
std::vector<CommandLine> rollbackctl_lines(const std::string& name) {
    const std::vector<std::string> lines = lines_of(read_example(name));
    const bool markdown = name.size() > 3 && name.substr(name.size() - 3) == ".md";
    std::vector<CommandLine> found;
    bool in_shell_block = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string line = trimmed(lines[i]);
        if (markdown && line.rfind("```", 0) == 0) {
            in_shell_block = !in_shell_block && line == "```sh";
            continue;
        }
        if ((markdown && !in_shell_block) || line.rfind("rollbackctl ", 0) != 0) continue;
        CommandLine command{name, static_cast<int>(i + 1), line};
        while (!command.text.empty() && command.text.back() == '\\' && i + 1 < lines.size()) {
            command.text.pop_back();
            command.text += " " + trimmed(lines[++i]);
        }
        found.push_back(command);
    }
    return found;
}

// GitHub's ${{ expression }} becomes the expression's text ("github.run_id"), as a sample value.
Result<std::string> replace_expressions(const std::string& text) {
    std::string out;
    std::size_t position = 0;
    while (true) {
        const auto start = text.find("${{", position);
        if (start == std::string::npos) break;
        const auto end = text.find("}}", start);
        if (end == std::string::npos) return make_error("\"${{\" without \"}}\"");
        out += text.substr(position, start - position) + trimmed(text.substr(start + 3, end - start - 3));
        position = end + 2;
    }
    return out + text.substr(position);
}

// Sample values of the shell variables the examples' command lines use.
const std::map<std::string, std::string> kSampleVariables{
    {"SERVICE", "checkout"},
    {"ENVIRONMENT", "prod"},
    {"GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"},
    {"DEPLOYMENT_ID", "checkout-1234567890-1"},
    {"RUN_URL", "https://github.com/your-org/checkout/actions/runs/1234567890/attempts/1"},
    {"ACTOR", "alice"},
    {"PROMETHEUS_URL", "http://prometheus.internal:9090"},
};

bool is_name_character(char c, bool first) {
    return c == '_' || std::isalpha(static_cast<unsigned char>(c)) ||
           (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// Reads $NAME or ${NAME} at text[i] (a '$'); advances i past it.
Result<std::string> expand_variable(const std::string& text, std::size_t& i,
                                    const std::map<std::string, std::string>& variables) {
    std::size_t start = i + 1;
    const bool braced = start < text.size() && text[start] == '{';
    if (braced) ++start;
    std::size_t end = start;
    while (end < text.size() && is_name_character(text[end], end == start))
        ++end;
    if (end == start || (braced && (end >= text.size() || text[end] != '}')))
        return make_error("unsupported shell expansion at \"" + text.substr(i, 12) +
                          "\" (only $NAME and ${NAME})");
    const std::string name = text.substr(start, end - start);
    i = braced ? end + 1 : end;
    const auto value = variables.find(name);
    if (value == variables.end())
        return make_error("$" + name +
                          " has no sample value: add it to kSampleVariables in test_examples.cpp");
    return value->second;
}

// Splits one shell command into words, for the forms the examples use: blanks, '...' and "..." quotes,
// backslash escapes, $NAME and ${NAME}. An unquoted | & ; < > ( ) or a word starting with # ends it.
Result<std::vector<std::string>> shell_words(const std::string& text,
                                             const std::map<std::string, std::string>& variables) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    auto end_word = [&] {
        if (in_word) words.push_back(word);
        word.clear();
        in_word = false;
    };
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (c == ' ' || c == '\t') {
            end_word();
            ++i;
        } else if (std::string_view("|&;<>()").find(c) != std::string_view::npos || (c == '#' && !in_word)) {
            break;
        } else if (c == '\'') {
            const auto close = text.find('\'', i + 1);
            if (close == std::string::npos) return make_error("a ' quote is not closed");
            word += text.substr(i + 1, close - i - 1);
            in_word = true;
            i = close + 1;
        } else if (c == '"') {
            in_word = true;
            for (++i;;) {
                if (i >= text.size()) return make_error("a \" quote is not closed");
                const char d = text[i];
                if (d == '"') {
                    ++i;
                    break;
                }
                if (d == '`') return make_error("unsupported command substitution with `");
                if (d == '\\' && i + 1 < text.size() &&
                    std::string_view("$`\"\\").find(text[i + 1]) != std::string_view::npos) {
                    word += text[i + 1];
                    i += 2;
                } else if (d == '$') {
                    auto value = expand_variable(text, i, variables);
                    if (!value) return Error{value.error()};
                    word += *value;
                } else {
                    word += d;
                    ++i;
                }
            }
        } else if (c == '\\') {
            if (i + 1 < text.size()) word += text[i + 1];
            in_word = true;
            i += 2;
        } else if (c == '$') {
            auto value = expand_variable(text, i, variables);
            if (!value) return Error{value.error()};
            word += *value;
            in_word = in_word || !value->empty(); // unquoted, an empty value is no word at all
        } else if (c == '`') {
            return make_error("unsupported command substitution with `");
        } else {
            word += c;
            in_word = true;
            ++i;
        }
    }
    end_word();
    return words;
}

const CtlEnvironment kSampleEnvironment{"http://rollback-receiver.internal:9095",
                                        "/tmp/rollback-receiver-token"};

// A command line parsed the way rollbackctl parses its arguments.
struct ParsedCommand {
    CommandLine where;
    CtlArgs args;
};

std::vector<ParsedCommand> parse_commands(const std::string& name) {
    std::vector<ParsedCommand> parsed;
    for (const CommandLine& command : rollbackctl_lines(name)) {
        INFO(command.file << ":" << command.line << ": " << command.text);
        auto text = replace_expressions(command.text);
        REQUIRE_MESSAGE(text.ok(), text.error());
        auto words = shell_words(*text, kSampleVariables);
        REQUIRE_MESSAGE(words.ok(), words.error());
        REQUIRE(!words->empty());
        REQUIRE(words->front() == "rollbackctl");
        const std::vector<std::string> arguments(words->begin() + 1, words->end());
        auto args = parse_ctl_args(arguments, kSampleEnvironment);
        REQUIRE_MESSAGE(args.ok(), "rollbackctl does not accept it: " << args.error());
        CHECK_FALSE(args->help);
        parsed.push_back(ParsedCommand{command, *args});
    }
    return parsed;
}

std::multiset<std::string> command_names(const std::vector<ParsedCommand>& commands) {
    std::multiset<std::string> names;
    for (const auto& command : commands)
        names.insert(std::string(to_string(command.args.command)));
    return names;
}

// The keys one level below the line `<indent><key>:` (the first such line), in file order.
std::vector<std::string> yaml_child_keys(const std::string& text, const std::string& indented_key) {
    const std::vector<std::string> lines = lines_of(text);
    std::vector<std::string> keys;
    const auto parent = std::find(lines.begin(), lines.end(), indented_key + ":");
    if (parent == lines.end()) return keys;
    const std::size_t parent_indentation = indentation_of(*parent);
    std::size_t child_indentation = 0;
    for (auto it = parent + 1; it != lines.end(); ++it) {
        const std::string line = trimmed(*it);
        if (line.empty() || line[0] == '#') continue;
        const std::size_t indentation = indentation_of(*it);
        if (indentation <= parent_indentation) break;
        if (child_indentation == 0) child_indentation = indentation;
        if (indentation == child_indentation) keys.push_back(line.substr(0, line.find(':')));
    }
    return keys;
}

// The value of `key: value` directly under the top-level `env:` mapping.
std::string top_level_env(const std::string& text, const std::string& key) {
    const std::vector<std::string> lines = lines_of(text);
    bool in_env = false;
    for (const std::string& line : lines) {
        if (!line.empty() && line[0] != ' ' && line[0] != '#') in_env = line == "env:";
        if (in_env && line.rfind("  " + key + ":", 0) == 0) return trimmed(line.substr(key.size() + 3));
    }
    return "";
}

TEST_CASE("shell_words splits the forms the examples use like the shell does") {
    const std::map<std::string, std::string> variables{{"ID", "deploy-42"}, {"EMPTY", ""}};
    struct Row {
        std::string line;
        std::vector<std::string> words;
    };
    const std::vector<Row> rows{
        {"rollbackctl record --id \"$ID\"", {"rollbackctl", "record", "--id", "deploy-42"}},
        {"a ${ID}x '$ID' \"${ID} y\"", {"a", "deploy-42x", "$ID", "deploy-42 y"}},
        {"a --query 'm{service=\"c\"}' b", {"a", "--query", "m{service=\"c\"}", "b"}},
        {"a \"\" \"$EMPTY\" $EMPTY b", {"a", "", "", "b"}},
        {"a \"q\\\"x\\$\" c\\ d", {"a", "q\"x$", "c d"}},
        {"a --actor \"$ID\" || status=$?", {"a", "--actor", "deploy-42"}},
        {"a b > out.txt", {"a", "b"}},
        {"a b # comment", {"a", "b"}},
        {"a b#c", {"a", "b#c"}},
    };
    for (const Row& row : rows) {
        CAPTURE(row.line);
        auto words = shell_words(row.line, variables);
        REQUIRE_MESSAGE(words.ok(), words.error());
        CHECK(*words == row.words);
    }
    for (const char* bad : {"a 'open", "a \"open", "a $UNKNOWN", "a $(date)", "a `date`"}) {
        CAPTURE(bad);
        CHECK_FALSE(shell_words(bad, variables).ok());
    }
    CHECK(*replace_expressions("id-${{ github.run_id }}-${{github.run_attempt}}") ==
          "id-github.run_id-github.run_attempt");
    CHECK_FALSE(replace_expressions("${{ github.sha").ok());
}

TEST_CASE("every rollbackctl command line in the examples parses") {
    const auto deploy = parse_commands("deploy.yml");
    CHECK(command_names(deploy) == std::multiset<std::string>{"record", "verify"});
    const auto rollback = parse_commands("rollback.yml");
    CHECK(rollback.empty());
    const auto readme = parse_commands("README.md");
    CHECK(command_names(readme) == std::multiset<std::string>{"rollback", "verify"});
}

TEST_CASE("deploy.yml records the deployment it gates, with every field, and the gate is the README's") {
    const auto commands = parse_commands("deploy.yml");
    REQUIRE(commands.size() == 2);
    const auto record = std::find_if(commands.begin(), commands.end(), [](const ParsedCommand& c) {
        return c.args.command == CtlCommand::record;
    });
    const auto verify = std::find_if(commands.begin(), commands.end(), [](const ParsedCommand& c) {
        return c.args.command == CtlCommand::verify;
    });
    REQUIRE(record != commands.end());
    REQUIRE(verify != commands.end());

    const DeploymentRequest& request = record->args.record.request;
    CHECK(request.service == "checkout");
    CHECK(request.environment == "prod");
    CHECK(request.version == kSampleVariables.at("GITHUB_SHA"));
    CHECK(request.commit == kSampleVariables.at("GITHUB_SHA"));
    CHECK(request.id == kSampleVariables.at("DEPLOYMENT_ID"));
    CHECK(request.url == kSampleVariables.at("RUN_URL"));
    CHECK(request.actor == kSampleVariables.at("ACTOR"));
    CHECK(request.previous_version.empty()); // the receiver knows what was live (README: the deployment id)
    // The receiver's URL and token come from the environment, not from --url (which is the run's).
    CHECK(record->args.url == kSampleEnvironment.receiver_url);
    CHECK(record->args.token_file == kSampleEnvironment.token_file);

    const VerifyArgs& gate = verify->args.verify;
    CHECK(gate.rollback_deployment_id == request.id);
    CHECK(gate.prometheus_url == kSampleVariables.at("PROMETHEUS_URL"));
    CHECK(gate.query ==
          "endpoint:http_requests:error_rate5m{service=\"env.SERVICE\",environment=\"env.ENVIRONMENT\"}");
    CHECK(gate.threshold == doctest::Approx(0.01));
    CHECK(gate.duration == std::chrono::minutes(5));
    CHECK(gate.interval == std::chrono::seconds(15));
    CHECK(gate.on_error == ErrorPolicy::ignore);
    CHECK(gate.no_data == NoDataPolicy::ok);

    // The README shows the same gate, with the service's labels written out.
    const auto readme = parse_commands("README.md");
    const auto readme_verify = std::find_if(readme.begin(), readme.end(), [](const ParsedCommand& c) {
        return c.args.command == CtlCommand::verify;
    });
    REQUIRE(readme_verify != readme.end());
    const VerifyArgs& shown = readme_verify->args.verify;
    CHECK(shown.query == "endpoint:http_requests:error_rate5m{service=\"checkout\",environment=\"prod\"}");
    CHECK(shown.threshold == gate.threshold);
    CHECK(shown.duration == gate.duration);
    CHECK(shown.interval == gate.interval);
    CHECK(shown.on_error == gate.on_error);
    CHECK(shown.rollback_deployment_id == gate.rollback_deployment_id);
}

TEST_CASE("rollback.yml takes the receiver's placeholders as inputs and shares deploy.yml's service") {
    const std::string rollback = read_example("rollback.yml");
    const std::string deploy = read_example("deploy.yml");
    // GitHub refuses a dispatch with an undeclared input (422): every placeholder must be an input.
    const std::vector<std::string> inputs = yaml_child_keys(rollback, "    inputs");
    CHECK(std::set<std::string>(inputs.begin(), inputs.end()) ==
          std::set<std::string>(known_placeholders().begin(), known_placeholders().end()));
    CHECK(inputs.size() == known_placeholders().size());

    const std::string service = top_level_env(deploy, "SERVICE");
    const std::string environment = top_level_env(deploy, "ENVIRONMENT");
    CHECK(service == "checkout");
    CHECK(environment == "prod");
    CHECK(top_level_env(rollback, "SERVICE") == service);
    CHECK(top_level_env(rollback, "ENVIRONMENT") == environment);
    // rollback.yml's group is deploy-${{ inputs.service }}-${{ inputs.environment }}: the same one.
    CHECK(rollback.find("group: deploy-${{ inputs.service }}-${{ inputs.environment }}\n") !=
          std::string::npos);
    CHECK(deploy.find("group: deploy-" + service + "-" + environment + "\n") != std::string::npos);
    // A rollback is never recorded as a deployment (it could be rolled back in turn).
    for (const ParsedCommand& command : parse_commands("rollback.yml"))
        CHECK(command.args.command != CtlCommand::record);
}

} // namespace
} // namespace rollback
