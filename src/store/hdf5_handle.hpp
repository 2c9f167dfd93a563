#pragma once
/// \file
/// \brief Internal: every HDF5 C-API call of the store goes through these wrappers, so that a
/// negative return or an invalid hid becomes a StoreError naming the file and the operation, and
/// every hid is closed by RAII.

#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace xbarsweep::store::detail {

/// \brief Held around every use of the HDF5 library: this build of it is not thread-safe, and a
/// run's coordinator thread writes snapshots while a point on rank 0 may read a data file.
std::mutex& hdf5_mutex();

/// \brief Turns off HDF5's automatic printing of its error stack (once per process); the
/// messages go into our exceptions instead.
void silence_hdf5_errors();

/// \brief Throws StoreError "<file>: <operation> failed: <innermost HDF5 messages>" and clears
/// the HDF5 error stack.
[[noreturn]] void throw_hdf5_error(const std::string& file, const std::string& operation);

/// \brief \p result when it is not negative; otherwise throws (see throw_hdf5_error).
inline herr_t h5_check(herr_t result, const std::string& file, const char* operation) {
  if (result < 0) throw_hdf5_error(file, operation);
  return result;
}

/// \brief Owns one hid_t and closes it with the matching H5?close.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  H5Handle() = default;
  H5Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      close_ = other.close_;
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const { return id_; }

  /// \brief Closes now and reports failure (a file's close writes metadata: it must be checked).
  void close(const std::string& file, const char* operation) {
    const hid_t id = std::exchange(id_, H5I_INVALID_HID);
    if (id >= 0 && close_) h5_check(close_(id), file, operation);
  }

  void reset() noexcept {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

/// \brief Takes ownership of \p id, or throws when it is invalid.
inline H5Handle h5_own(hid_t id, H5Handle::Closer close, const std::string& file, const char* operation) {
  if (id < 0) throw_hdf5_error(file, operation);
  return H5Handle(id, close);
}

}  // namespace xbarsweep::store::detail
