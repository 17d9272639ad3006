#include "manual.hpp"

#include <sstream>
#include <string_view>

namespace flowstack::cli {
namespace {

constexpr std::size_t help_width = 92;

// Words of `text` in lines of at most `width` columns, each line after the first indented by
// `indent` spaces (the first is the caller's).
std::string wrap(std::string_view text, std::size_t first_column, std::size_t indent) {
  std::string out;
  std::size_t column = first_column;
  bool line_start = true;
  while (!text.empty()) {
    auto space = text.find(' ');
    auto word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (word.empty()) continue;
    if (!line_start && column + 1 + word.size() > help_width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
      line_start = true;
    }
    if (!line_start) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_start = false;
  }
  return out;
}

// Text as roff reads it on a text line: backslashes and minus signs escaped (so that options
// copy as ASCII hyphen-minus), and a leading '.' or '\'' kept from reading as a request.
std::string roff(std::string_view text) {
  std::string out;
  if (!text.empty() && (text.front() == '.' || text.front() == '\'')) out += "\\&";
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  return out;
}

std::string bold(std::string_view text) {
  return "\\fB" + roff(text) + "\\fR";
}
std::string italic(std::string_view text) {
  return "\\fI" + roff(text) + "\\fR";
}

std::vector<const CLI::Option*> visible_options(const CLI::App& app, bool positional) {
  return app.get_options([positional](const CLI::Option* o) {
    return !o->get_group().empty() && o->nonpositional() != positional;
  });
}

// "-v, --verbose" in bold, then the value it takes and its default.
std::string option_term(const CLI::Option& o) {
  std::string names = o.get_name(false, true), out;
  for (std::size_t begin = 0; begin <= names.size();) {
    auto end = std::min(names.find(',', begin), names.size());
    out += (out.empty() ? "" : ", ") + bold(names.substr(begin, end - begin));
    begin = end + 1;
  }
  if (o.get_items_expected_max() > 0) out += " " + italic(o.get_type_name());
  if (!o.get_default_str().empty()) out += " (default " + roff(o.get_default_str()) + ")";
  return out;
}

// "flowstack cat [OPTIONS] ADDRESS ADDRESS"
std::string synopsis(const CLI::App& program, const CLI::App& command) {
  std::string out = bold(program.get_name() + " " + command.get_name());
  if (!visible_options(command, false).empty()) out += " [" + italic("OPTIONS") + "]";
  for (const CLI::Option* p : visible_options(command, true)) {
    int times = std::max(p->get_items_expected_min(), 1);
    for (int i = 0; i < times; ++i) out += " " + italic(p->get_name(true));
  }
  return out;
}

void tagged(std::ostringstream& out, const std::string& term, const std::string& text) {
  out << ".TP\n" << term << "\n" << roff(text) << "\n";
}

void options_of(std::ostringstream& out, const CLI::App& app) {
  for (const CLI::Option* o : visible_options(app, false))
    tagged(out, option_term(*o), o->get_description());
  for (const CLI::Option* p : visible_options(app, true))
    tagged(out, italic(p->get_name(true)), p->get_description());
}

void addresses(std::ostringstream& out, const kind_registry& kinds) {
  out << ".SH ADDRESSES\n";
  for (const auto& form : address_syntax().forms) tagged(out, bold(form.term), form.text);
  out << ".PP\n";
  for (const auto& note : address_syntax().notes) out << roff(note) << "\n";
  for (kind_role role : {kind_role::connector, kind_role::listener, kind_role::layer}) {
    auto of_role = kinds.of_role(role);
    if (of_role.empty()) continue;
    out << ".SS " << role_title(role) << "\n";
    for (const kind* k : of_role) {
      tagged(out, bold(k->usage), k->help);
      if (k->options.empty()) continue;
      out << ".RS\n";
      for (const auto& o : k->options) tagged(out, bold("," + option_usage(o)), o.help);
      out << ".RE\n";
    }
  }
}

}  // namespace

std::string help_text(const help_section& section) {
  std::string out = "\n" + section.title + ":\n";
  for (const auto& p : section.paragraphs) out += "  " + wrap(p, 2, 2) + "\n";
  // Texts line up after the longest term that leaves them room; longer terms get a line of
  // their own.
  std::size_t column = 0;
  for (const auto& e : section.entries)
    if (e.term.size() <= 48) column = std::max(column, e.term.size());
  column += 4;
  for (const auto& e : section.entries) {
    std::string line = "  " + e.term;
    if (line.size() + 2 > column) {
      out += line + "\n";
      line.clear();
    }
    line.resize(column, ' ');
    out += line + wrap(e.text, column, column) + "\n";
  }
  return out;
}

std::string roff_manual(const manual& m) {
  const CLI::App& program = *m.program;
  std::string summary = program.get_description();
  if (auto prefix = program.get_name() + ": "; summary.starts_with(prefix))
    summary.erase(0, prefix.size());
  if (summary.ends_with('.')) summary.pop_back();

  std::ostringstream out;
  out << ".TH FLOWSTACK 1 \"\" \"" << roff(program.get_name() + " " + m.version)
      << "\" \"User Commands\"\n";
  out << ".SH NAME\n" << roff(program.get_name()) << " \\- " << roff(summary) << "\n";
  out << ".SH SYNOPSIS\n";
  for (const auto& c : m.commands) out << synopsis(program, *c.app) << "\n.br\n";
  out << bold(program.get_name());
  for (const CLI::Option* o : visible_options(program, false))
    out << " [" << bold(o->get_name(false, true).substr(o->get_name(false, true).rfind(',') + 1))
        << "]";
  out << "\n.SH DESCRIPTION\n"
      << bold(program.get_name()) << " works with " << roff(summary) << ".\n";
  out << roff("Each command takes its own options; `" + program.get_name() +
              " COMMAND --help` prints them, as this page does.")
      << "\n";
  out << ".SH OPTIONS\n";
  options_of(out, program);
  out << ".SH COMMANDS\n";
  for (const auto& c : m.commands) {
    out << ".SS " << roff(c.app->get_name()) << "\n" << synopsis(program, *c.app) << "\n.PP\n";
    out << roff(c.app->get_description()) << "\n";
    options_of(out, *c.app);
    for (const auto& section : c.sections) {
      out << ".PP\n" << bold(section.title + ".") << "\n";
      for (const auto& p : section.paragraphs) out << roff(p) << "\n";
      for (const auto& e : section.entries) tagged(out, bold(e.term), e.text);
    }
    if (c.kinds) out << ".PP\n" << roff("Its addresses are described under ADDRESSES.") << "\n";
  }
  for (const auto& c : m.commands)
    if (c.kinds) addresses(out, *c.kinds);
  out << ".SH EXIT STATUS\n";
  for (const auto& e : m.exit_codes) tagged(out, bold(e.term), e.text);
  out << ".SH EXAMPLES\n";
  for (const auto& c : m.commands)
    for (const auto& e : c.examples) tagged(out, bold(e.term), e.text);
  out << ".SH SEE ALSO\n" << bold("socat") << "(1), " << bold("kdig") << "(1)\n";
  return out.str();
}

}  // namespace flowstack::cli
