#pragma once
#include <map>
#include <string>

namespace xbarsweep::cli {
/// \brief Name -> version of xbarsweep and every library it runs on, for the results file.
std::map<std::string, std::string> software_versions();
}  // namespace xbarsweep::cli
