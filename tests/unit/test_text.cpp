// Tests for common/text: trimming and the two number formats (exact for /metrics, short for people).
#include "common/text.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

namespace rollback {
namespace {

TEST_CASE("trim removes surrounding whitespace of every kind and keeps the inside") {
    const struct {
        const char* in;
        const char* out;
    } rows[] = {
        {"", ""},
        {"   ", ""},
        {"token", "token"},
        {"  token \n", "token"},
        {"\t\r\n\v\fa b\f", "a b"},
        {"a\nb", "a\nb"},
        {" a  b ", "a  b"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.in);
        CHECK(trim(row.in) == row.out);
    }
}

TEST_CASE("format_number_exact is the shortest text that reads back as the same double") {
    const double inf = std::numeric_limits<double>::infinity();
    const struct {
        double in;
        const char* out;
    } rows[] = {
        {0, "0"},     {0.1, "0.1"},    {0.0005, "0.0005"}, {5e-05, "5e-05"}, {1.5, "1.5"},
        {100, "100"}, {1e21, "1e+21"}, {inf, "+Inf"},      {-inf, "-Inf"},   {std::nan(""), "NaN"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.in);
        CHECK(format_number_exact(row.in) == row.out);
    }
}

TEST_CASE("format_number_short keeps six significant digits") {
    const double inf = std::numeric_limits<double>::infinity();
    const struct {
        double in;
        const char* out;
    } rows[] = {
        {1e-5, "1e-05"}, {0.0123456789, "0.0123457"}, {0.01, "0.01"}, {1e6, "1e+06"}, {-inf, "-Inf"},
        {inf, "+Inf"},   {std::nan(""), "NaN"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.in);
        CHECK(format_number_short(row.in) == row.out);
    }
}

} // namespace
} // namespace rollback
