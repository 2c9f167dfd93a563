// Which reader serves which array file: .npz built in, others registered at start-up.
#include "xbarsweep/data/array_file.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "xbarsweep/error.hpp"

namespace xbarsweep::data {
namespace {

std::mutex& formats_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, ArrayFormat>& formats() {
  static std::map<std::string, ArrayFormat> f = {{".npz", npz_format()}};
  return f;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

void register_array_format(const std::vector<std::string>& extensions, ArrayFormat format) {
  std::lock_guard<std::mutex> lock(formats_mutex());
  for (const std::string& extension : extensions) formats()[lower(extension)] = format;
}

std::vector<std::string> array_extensions() {
  std::lock_guard<std::mutex> lock(formats_mutex());
  std::vector<std::string> out;
  for (const auto& entry : formats()) out.push_back(entry.first);
  return out;
}

ArrayFormat array_format(const std::string& file) {
  const std::string name = lower(file);
  {
    std::lock_guard<std::mutex> lock(formats_mutex());
    for (const auto& [extension, format] : formats())
      if (name.size() > extension.size() &&
          name.compare(name.size() - extension.size(), extension.size(), extension) == 0)
        return format;
  }
  std::string known;
  for (const std::string& extension : array_extensions()) known += (known.empty() ? "" : ", ") + extension;
  throw DataError(file + ": not a file type with arrays this program reads; expected a name ending in " +
                  known);
}

}  // namespace xbarsweep::data
