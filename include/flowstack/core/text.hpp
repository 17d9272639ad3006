// Text from outside (an address, a port name, a peer's bytes) made safe to print in a message.
#pragma once

#include <string>
#include <string_view>

namespace flowstack {

// `text` with every control character and every byte outside ASCII written as \xNN, so that a
// terminal never acts on what a user, a script or a peer put in it.
std::string escape_controls(std::string_view text);

}  // namespace flowstack
