#include "hdf5_handle.hpp"

#include <mutex>
#include <vector>

#include "xbarsweep/error.hpp"

namespace xbarsweep::store::detail {

std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {

herr_t collect_message(unsigned, const H5E_error2_t* error, void* data) {
  if (error->desc && *error->desc) static_cast<std::vector<std::string>*>(data)->emplace_back(error->desc);
  return 0;
}

}  // namespace

void throw_hdf5_error(const std::string& file, const std::string& operation) {
  // The stack runs from the API call down to the root cause: keep both ends, on one line.
  std::vector<std::string> stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_message, &stack);
  H5Eclear2(H5E_DEFAULT);
  std::string message = file + ": " + operation + " failed";
  if (!stack.empty()) message += ": " + stack.front();
  if (stack.size() > 1) message += ": " + stack.back();
  throw StoreError(message);
}

}  // namespace xbarsweep::store::detail
