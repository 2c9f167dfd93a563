// HDF5 files as data::ArrayFormat: datasets listed, their headers and elements read through the
// checked wrappers of hdf5_handle.hpp, under the store's HDF5 lock.
#include "xbarsweep/store/hdf5_arrays.hpp"

#include <new>
#include <optional>
#include <string>
#include <vector>

#include "hdf5_handle.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::store {
namespace {

using detail::h5_check;
using detail::h5_own;
using detail::H5Handle;

// One HDF5 file open for reading; holds the HDF5 lock for as long as it lives.
class ArrayFile {
 public:
  explicit ArrayFile(std::string path) : path_(std::move(path)), lock_(detail::hdf5_mutex()) {
    detail::silence_hdf5_errors();
    const htri_t is_hdf5 = H5Fis_hdf5(path_.c_str());
    if (is_hdf5 < 0) detail::throw_hdf5_error(path_, "H5Fis_hdf5");
    if (is_hdf5 == 0) {
      throw DataError(path_ +
                      ": not an HDF5 file (no HDF5 signature); expected an HDF5 file holding the "
                      "images and labels as datasets");
    }
    H5Handle fapl = h5_own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, path_, "H5Pcreate(file access)");
#if H5_VERSION_GE(1, 10, 7)
    // A data file is only read: HDF5's own locking fails on some shared filesystems.
    h5_check(H5Pset_file_locking(fapl.get(), false, true), path_, "H5Pset_file_locking");
#endif
    file_ = h5_own(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, path_, "H5Fopen");
  }

  // Every dataset's path, walking the groups from the root.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    collect(file_.get(), "", out);
    return out;
  }

  // The dataset at \p key; nothing when no object has that path.
  std::optional<H5Handle> open_dataset(const std::string& key) const {
    if (key.empty() || !exists(key)) return std::nullopt;
    H5Handle object =
        h5_own(H5Oopen(file_.get(), key.c_str(), H5P_DEFAULT), H5Oclose, path_, op("H5Oopen", key).c_str());
    const H5I_type_t type = H5Iget_type(object.get());
    if (type == H5I_BADID) detail::throw_hdf5_error(path_, op("H5Iget_type", key));
    if (type != H5I_DATASET) {
      std::string held;
      for (const std::string& k : keys()) held += (held.empty() ? "'" : ", '") + k + "'";
      throw DataError(path_ + ": '" + key + "' is an HDF5 " +
                      (type == H5I_GROUP ? "group" : "named datatype") +
                      ", not a dataset; expected a dataset (the file's datasets: " +
                      (held.empty() ? std::string("none") : held) + ")");
    }
    return reopen(key);
  }

  data::ArrayHeader header(hid_t dataset, const std::string& key) const {
    data::ArrayHeader h;
    H5Handle space = h5_own(H5Dget_space(dataset), H5Sclose, path_, op("H5Dget_space", key).c_str());
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) detail::throw_hdf5_error(path_, op("H5Sget_simple_extent_ndims", key));
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0)
      h5_check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), path_,
               op("H5Sget_simple_extent_dims", key).c_str());
    for (const hsize_t d : dims) h.shape.push_back(static_cast<std::int64_t>(d));
    H5Handle type = h5_own(H5Dget_type(dataset), H5Tclose, path_, op("H5Dget_type", key).c_str());
    h.dtype = dtype_name(type.get(), key);
    return h;
  }

  data::ArrayData read(hid_t dataset, const std::string& key) const {
    data::ArrayData data{header(dataset, key), {}};
    const hid_t memory = memory_type(data.header.dtype);
    if (memory < 0)
      throw DataError(path_ + ": dataset '" + key + "' has the type " + data.header.dtype +
                      ", which cannot be read");
    try {
      data.bytes.resize(static_cast<std::size_t>(data.header.count()) * data::dtype_size(data.header.dtype));
    } catch (const std::bad_alloc&) {
      throw DataError(path_ + ": dataset '" + key + "' claims an implausible size");
    }
    if (!data.bytes.empty())
      h5_check(H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.bytes.data()), path_,
               op("H5Dread", key).c_str());
    return data;
  }

 private:
  static std::string op(const char* call, const std::string& key) {
    return std::string(call) + "(" + key + ")";
  }

  H5Handle reopen(const std::string& key) const {
    return h5_own(H5Dopen2(file_.get(), key.c_str(), H5P_DEFAULT), H5Dclose, path_,
                  op("H5Dopen", key).c_str());
  }

  // Whether every link of the path "a/b/c" exists (H5Lexists needs each parent to exist).
  bool exists(const std::string& key) const {
    for (std::size_t at = 0;;) {
      const auto slash = key.find('/', at);
      const std::string prefix = key.substr(0, slash);
      if (!prefix.empty() && h5_check(H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT), path_,
                                      op("H5Lexists", prefix).c_str()) <= 0)
        return false;
      if (slash == std::string::npos) return true;
      at = slash + 1;
    }
  }

  void collect(hid_t group, const std::string& prefix, std::vector<std::string>& out) const {
    H5G_info_t info{};
    h5_check(H5Gget_info(group, &info), path_, op("H5Gget_info", prefix.empty() ? "/" : prefix).c_str());
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t length =
          H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (length < 0) detail::throw_hdf5_error(path_, op("H5Lget_name_by_idx", prefix));
      std::string name(static_cast<std::size_t>(length) + 1, '\0');
      if (H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                             H5P_DEFAULT) < 0)
        detail::throw_hdf5_error(path_, op("H5Lget_name_by_idx", prefix));
      name.resize(static_cast<std::size_t>(length));
      const std::string path = prefix.empty() ? name : prefix + "/" + name;
      if (H5Oexists_by_name(group, name.c_str(), H5P_DEFAULT) <= 0) continue;  // a dangling soft link
      H5Handle object =
          h5_own(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose, path_, op("H5Oopen", path).c_str());
      const H5I_type_t type = H5Iget_type(object.get());
      if (type == H5I_DATASET) out.push_back(path);
      if (type == H5I_GROUP) collect(object.get(), path, out);
    }
  }

  std::string dtype_name(hid_t type, const std::string& key) const {
    const H5T_class_t c = H5Tget_class(type);
    if (c == H5T_NO_CLASS) detail::throw_hdf5_error(path_, op("H5Tget_class", key));
    const std::size_t size = H5Tget_size(type);
    if (size == 0) detail::throw_hdf5_error(path_, op("H5Tget_size", key));
    const std::string bits = std::to_string(8 * size);
    if (c == H5T_INTEGER) {
      const H5T_sign_t sign = H5Tget_sign(type);
      if (sign == H5T_SGN_ERROR) detail::throw_hdf5_error(path_, op("H5Tget_sign", key));
      return (sign == H5T_SGN_NONE ? "uint" : "int") + bits;
    }
    if (c == H5T_FLOAT) return "float" + bits;
    if (c == H5T_COMPOUND) {
      // h5py writes complex numbers as a compound of two floats, r and i.
      const int members = H5Tget_nmembers(type);
      if (members == 2) {
        H5Handle real =
            h5_own(H5Tget_member_type(type, 0), H5Tclose, path_, op("H5Tget_member_type", key).c_str());
        if (H5Tget_class(real.get()) == H5T_FLOAT) return "complex" + bits;
      }
      return "compound";
    }
    if (c == H5T_ENUM) return "enum (h5py's bool)";
    if (c == H5T_STRING) return "string";
    return "HDF5 type class " + std::to_string(static_cast<int>(c));
  }

  static hid_t memory_type(const std::string& dtype) {
    if (dtype == "uint8") return H5T_NATIVE_UINT8;
    if (dtype == "int8") return H5T_NATIVE_INT8;
    if (dtype == "uint16") return H5T_NATIVE_UINT16;
    if (dtype == "int16") return H5T_NATIVE_INT16;
    if (dtype == "uint32") return H5T_NATIVE_UINT32;
    if (dtype == "int32") return H5T_NATIVE_INT32;
    if (dtype == "uint64") return H5T_NATIVE_UINT64;
    if (dtype == "int64") return H5T_NATIVE_INT64;
    if (dtype == "float32") return H5T_NATIVE_FLOAT;
    if (dtype == "float64") return H5T_NATIVE_DOUBLE;
    return -1;
  }

  std::string path_;
  std::lock_guard<std::mutex> lock_;  // before the handles: released after they are closed
  H5Handle file_;
};

// HDF5 failures (StoreError) of a data file are bad input: DataError, naming the key too.
template <class F>
auto as_data_error(const std::string& key, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const DataError&) {
    throw;
  } catch (const StoreError& e) {
    throw DataError(e.message() + " (reading '" + key + "'); expected a readable HDF5 file");
  }
}

}  // namespace

data::ArrayFormat hdf5_array_format() {
  data::ArrayFormat f;
  f.name = "HDF5";
  f.keys = [](const std::string& file) {
    return as_data_error("the dataset list", [&] { return ArrayFile(file).keys(); });
  };
  f.header = [](const std::string& file, const std::string& key) {
    return as_data_error(key, [&]() -> std::optional<data::ArrayHeader> {
      const ArrayFile h5(file);
      auto dataset = h5.open_dataset(key);
      if (!dataset) return std::nullopt;
      return h5.header(dataset->get(), key);
    });
  };
  f.read = [](const std::string& file, const std::string& key) {
    return as_data_error(key, [&] {
      const ArrayFile h5(file);
      auto dataset = h5.open_dataset(key);
      if (!dataset) throw DataError(file + ": holds no dataset '" + key + "'");
      return h5.read(dataset->get(), key);
    });
  };
  return f;
}

}  // namespace xbarsweep::store
