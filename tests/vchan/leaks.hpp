// What a process holds that a channel could leak: descriptors and shared mappings.
#pragma once

#include <dirent.h>

#include <fstream>
#include <string>

namespace flowstack::test {

inline std::size_t entries_in(const std::string& dir) {
  std::size_t count = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ++count;
    }
    ::closedir(d);
  }
  return count;
}

struct resource_count {
  std::size_t descriptors = 0;
  std::size_t vchan_mappings = 0;
  friend bool operator==(const resource_count&, const resource_count&) = default;
};

inline std::ostream& operator<<(std::ostream& out, const resource_count& r) {
  return out << r.descriptors << " descriptors, " << r.vchan_mappings << " vchan mappings";
}

inline resource_count resources() {
  resource_count r;
  r.descriptors = entries_in("/proc/self/fd") - 1;  // the one opendir holds
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("flowstack-vchan") != std::string::npos) ++r.vchan_mappings;
  }
  return r;
}

}  // namespace flowstack::test
