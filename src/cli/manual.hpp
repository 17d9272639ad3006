// The program's documentation beyond CLI11's option tables, written once and printed in two
// forms: as text in --help, and as roff in the manual page flowstack(1), which the build writes
// with `flowstack --man-page`. Both come from the same tables (the CLI11 apps of the program and
// its commands, the registry of address kinds), so the manual cannot drift from the program.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "address.hpp"

namespace flowstack::cli {

// A titled part of a command's documentation: paragraphs, then a list of terms.
struct help_section {
  std::string title;
  std::vector<std::string> paragraphs;  // one string each, wrapped when printed
  std::vector<help_entry> entries;
};

// --help's form: "\nTitle:\n  paragraph, wrapped...\n  term   text\n".
std::string help_text(const help_section& section);

// What the manual says of one command besides its CLI11 app.
struct manual_command {
  const CLI::App* app = nullptr;
  std::vector<help_section> sections;
  std::vector<help_entry> examples;      // a command line and what it does
  const kind_registry* kinds = nullptr;  // the addresses it takes, if any
};

struct manual {
  const CLI::App* program = nullptr;
  std::string version;
  std::vector<manual_command> commands;
  std::vector<help_entry> exit_codes;
};

// The manual page in roff with man(7) macros: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, COMMANDS
// (each with its options and sections), ADDRESSES (every kind and kind option), EXIT STATUS,
// EXAMPLES, SEE ALSO.
std::string roff_manual(const manual& m);

}  // namespace flowstack::cli
