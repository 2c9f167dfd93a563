// A Table as CSV, Markdown, JSON and LaTeX.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "xbarsweep/report/table.hpp"

namespace xbarsweep::report {

namespace {

bool is_number(const std::string& text) {
  if (text.empty()) return false;
  if (text == "nan" || text == "inf" || text == "-inf") return true;
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size();
}

bool is_text_column(const std::string& name) { return name == "id" || name == "status"; }

// Whether column \p c holds numbers: every non-empty cell is one (and it is not id or status).
// Decided per column, so that a string parameter whose value reads as a number stays a string.
bool numeric_column(const Table& table, std::size_t c) {
  if (is_text_column(table.columns[c])) return false;
  for (const auto& row : table.rows)
    if (!row[c].empty() && !is_number(row[c])) return false;
  return true;
}

std::string json_string(const std::string& s) { return config::quoted(s); }

std::string latex_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
      case '%':
      case '$':
      case '#':
      case '_':
      case '{':
      case '}':
        out += '\\';
        out += c;
        break;
      case '~':
        out += "\\textasciitilde{}";
        break;
      case '^':
        out += "\\textasciicircum{}";
        break;
      case '\\':
        out += "\\textbackslash{}";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A number split for an r@{}l column pair: the integer part, and the rest from the decimal point
// (or the exponent) on; a LaTeX-safe minus sign.
std::pair<std::string, std::string> decimal_split(const std::string& number) {
  if (number == "nan" || number == "inf" || number == "-inf")
    return {number == "-inf" ? "$-\\infty$" : number == "inf" ? "$\\infty$" : "--", ""};
  const auto at = number.find_first_of(".eE");
  std::string whole = number.substr(0, at), rest = at == std::string::npos ? "" : number.substr(at);
  if (!whole.empty() && whole[0] == '-') whole = "$-$" + whole.substr(1);
  if (const auto e = rest.find_first_of("eE"); e != std::string::npos) {
    const std::string mantissa = rest.substr(0, e);
    const std::string exponent = rest.substr(e + 1);
    rest = mantissa + "$\\times 10^{" + std::to_string(std::stoi(exponent)) + "}$";
  }
  return {whole, rest};
}

}  // namespace

std::string to_csv(const Table& table) {
  auto cell = [](const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + cell(cells[i]);
    out += "\n";
  };
  line(table.columns);
  for (const auto& row : table.rows) line(row);
  return out;
}

std::string to_markdown(const Table& table) {
  auto cell = [](std::string s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
    return out;
  };
  std::vector<std::size_t> width(table.columns.size(), 3);
  for (std::size_t i = 0; i < table.columns.size(); ++i)
    width[i] = std::max(width[i], cell(table.columns[i]).size());
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], cell(row[i]).size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    out += "|";
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string c = cell(cells[i]);
      out += " " + c + std::string(width[i] - c.size(), ' ') + " |";
    }
    out += "\n";
  };
  line(table.columns);
  out += "|";
  for (auto w : width) out += std::string(w + 2, '-') + "|";
  out += "\n";
  for (const auto& row : table.rows) line(row);
  return out;
}

std::string to_json(const Table& table) {
  std::vector<bool> numeric;
  for (std::size_t c = 0; c < table.columns.size(); ++c) numeric.push_back(numeric_column(table, c));
  std::string out = "[";
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    out += r ? ",\n {" : "\n {";
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      const std::string& v = table.rows[r][c];
      out += (c ? ", " : "") + json_string(table.columns[c]) + ": ";
      const bool text = !numeric[c];
      const bool finite = v != "nan" && v != "inf" && v != "-inf";
      out += v.empty() || (!text && !finite) ? "null" : text ? json_string(v) : v;  // JSON has no NaN
    }
    out += "}";
  }
  return out + (table.rows.empty() ? "]\n" : "\n]\n");
}

std::string to_latex(const Table& table, const LatexOptions& options) {
  // Columns to print: a `<m>_mean` followed by `<m>_std` becomes one `m` column of mean ± std.
  struct Column {
    std::string name;
    std::size_t value = 0;
    std::optional<std::size_t> spread;
    bool numeric = true;
  };
  std::vector<Column> columns;
  const auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    const std::string& name = table.columns[c];
    Column col{name, c, std::nullopt, numeric_column(table, c)};
    if (ends_with(name, "_mean") && c + 1 < table.columns.size() &&
        table.columns[c + 1] == name.substr(0, name.size() - 5) + "_std") {
      col.name = name.substr(0, name.size() - 5);
      col.spread = c + 1;
      ++c;
    }
    col.numeric = col.numeric && (!col.spread || numeric_column(table, *col.spread));
    columns.push_back(col);
  }
  std::string spec, header, body;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const Column& col = columns[i];
    spec += col.numeric ? "r@{}l" : "l";
    const std::string title = latex_escape(col.name) + (col.spread ? " ($\\pm$ std)" : "");
    header += (i ? " & " : "") + (col.numeric ? "\\multicolumn{2}{c}{" + title + "}" : title);
  }
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const Column& col = columns[i];
      body += i ? " & " : "";
      if (!col.numeric) {
        body += latex_escape(row[col.value]);
        continue;
      }
      auto [whole, rest] = decimal_split(row[col.value]);
      if (col.spread && !row[*col.spread].empty()) {
        const auto [sw, sr] = decimal_split(row[*col.spread]);
        rest += " $\\pm$ " + sw + sr;
      }
      body += whole + " & " + rest;
    }
    body += " \\\\\n";
  }
  std::string out = "\\begin{table}\n\\centering\n";
  if (!options.caption.empty()) out += "\\caption{" + latex_escape(options.caption) + "}\n";
  if (!options.label.empty()) out += "\\label{" + options.label + "}\n";
  out += "\\begin{tabular}{" + spec + "}\n\\toprule\n" + header + " \\\\\n\\midrule\n" + body +
         "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
  return out;
}

}  // namespace xbarsweep::report
