
#include "xbarsweep/error.hpp"
#include "xbarsweep/kinds/kind.hpp"

namespace xbarsweep::kinds {

void KindRegistry::add(std::unique_ptr<Kind> kind) {
  const std::string name = kind->name();
  if (!kinds_.emplace(name, std::move(kind)).second) {
    throw InternalError("experiment kind '" + name + "' registered twice");
  }
}

const Kind* KindRegistry::find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second.get();
}

std::vector<std::string> KindRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

std::map<std::string, config::Schema> KindRegistry::schemas() const {
  std::map<std::string, config::Schema> out;
  for (const auto& [name, kind] : kinds_) out.emplace(name, kind->schema());
  return out;
}

}  // namespace xbarsweep::kinds
