#include "hdf5_handle.hpp"

#include <mutex>

#include "xbarsweep/store/errors.hpp"

namespace xbarsweep::store::detail {

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {

herr_t collect_message(unsigned depth, const H5E_error2_t* error, void* data) {
  auto* text = static_cast<std::string*>(data);
  // The stack is walked from the API call down to the root cause; keep the first two levels
  // (what failed, and why) so that messages stay one line.
  if (depth < 2 && error->desc && *error->desc) {
    if (!text->empty()) text->append(": ");
    text->append(error->desc);
  }
  return 0;
}

}  // namespace

void throw_hdf5_error(const std::string& file, const std::string& operation) {
  std::string why;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_message, &why);
  H5Eclear2(H5E_DEFAULT);
  std::string message = file + ": " + operation + " failed";
  if (!why.empty()) message += ": " + why;
  throw StoreError(message);
}

}  // namespace xbarsweep::store::detail
