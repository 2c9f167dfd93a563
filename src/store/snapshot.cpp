#include "snapshot.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <new>
#include <sstream>
#include <stdexcept>

#include "hdf5_handle.hpp"
#include "posix_file.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::store::detail {

bool valid_column_name(std::string_view name) {
  return !name.empty() && name != "." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

namespace {

// Per-row type tags of /points/params_types/<path>: the index of the type in config::Value.
constexpr std::int8_t kAbsent = -1;
constexpr std::int8_t kTagBool = 0, kTagInt = 1, kTagReal = 2, kTagString = 3;
static_assert(std::variant_size_v<config::Value> == 4);

constexpr std::int64_t kMissingInt = std::numeric_limits<std::int64_t>::min();

// ---------------------------------------------------------------------------------------------
// HDF5 access shared by writing and reading, bound to one file name for error messages.

class H5File {
 public:
  explicit H5File(std::string name) : name_(std::move(name)) { silence_hdf5_errors(); }

  const std::string& name() const { return name_; }

  H5Handle access_properties() const {
    H5Handle fapl = h5_own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, name_, "H5Pcreate(file access)");
    // Readable by HDF5 1.8 and h5py 3.x; no SWMR; no 1.10 object header features.
    h5_check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_V18), name_,
             "H5Pset_libver_bounds");
    // Close everything at H5Fclose, so that an fsync after it sees every byte.
    h5_check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), name_, "H5Pset_fclose_degree");
#if H5_VERSION_GE(1, 10, 7)
    // HDF5's own locking fails on some shared filesystems; R.lock serialises our writers.
    h5_check(H5Pset_file_locking(fapl.get(), false, true), name_, "H5Pset_file_locking");
#endif
    return fapl;
  }

  H5Handle create() const {
    H5Handle fapl = access_properties();
    return h5_own(H5Fcreate(name_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, name_,
                  "H5Fcreate");
  }

  H5Handle open_read_only() const {
    H5Handle fapl = access_properties();
    return h5_own(H5Fopen(name_.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, name_, "H5Fopen");
  }

  // ---- writing ------------------------------------------------------------------------------

  H5Handle create_group(hid_t parent, const std::string& name) const {
    return h5_own(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, name_,
                  op("H5Gcreate", name).c_str());
  }

  H5Handle string_type() const {
    H5Handle type = h5_own(H5Tcopy(H5T_C_S1), H5Tclose, name_, "H5Tcopy(string)");
    h5_check(H5Tset_size(type.get(), H5T_VARIABLE), name_, "H5Tset_size(variable)");
    h5_check(H5Tset_cset(type.get(), H5T_CSET_UTF8), name_, "H5Tset_cset(UTF-8)");
    return type;
  }

  void write_string_attribute(hid_t loc, const std::string& name, const std::string& value) const {
    H5Handle type = string_type();
    H5Handle space = h5_own(H5Screate(H5S_SCALAR), H5Sclose, name_, "H5Screate(scalar)");
    H5Handle attr = h5_own(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                           H5Aclose, name_, op("H5Acreate", name).c_str());
    const char* text = value.c_str();
    h5_check(H5Awrite(attr.get(), type.get(), &text), name_, op("H5Awrite", name).c_str());
  }

  template <class T>
  void write_scalar_attribute(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type,
                              T value) const {
    H5Handle space = h5_own(H5Screate(H5S_SCALAR), H5Sclose, name_, "H5Screate(scalar)");
    H5Handle attr = h5_own(H5Acreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                           H5Aclose, name_, op("H5Acreate", name).c_str());
    h5_check(H5Awrite(attr.get(), mem_type, &value), name_, op("H5Awrite", name).c_str());
  }

  H5Handle create_dataset(hid_t loc, const std::string& name, hid_t file_type, std::size_t n) const {
    const hsize_t dims[1] = {static_cast<hsize_t>(n)};
    H5Handle space = h5_own(H5Screate_simple(1, dims, nullptr), H5Sclose, name_, "H5Screate_simple");
    return h5_own(
        H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        H5Dclose, name_, op("H5Dcreate", name).c_str());
  }

  template <class T>
  H5Handle write_column(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type,
                        const std::vector<T>& values) const {
    H5Handle dset = create_dataset(loc, name, file_type, values.size());
    if (!values.empty())
      h5_check(H5Dwrite(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), name_,
               op("H5Dwrite", name).c_str());
    return dset;
  }

  H5Handle write_string_column(hid_t loc, const std::string& name,
                               const std::vector<const char*>& values) const {
    H5Handle type = string_type();
    return write_column(loc, name, type.get(), type.get(), values);
  }

  void write_string_scalar(hid_t loc, const std::string& name, const std::string& value) const {
    H5Handle type = string_type();
    H5Handle space = h5_own(H5Screate(H5S_SCALAR), H5Sclose, name_, "H5Screate(scalar)");
    H5Handle dset =
        h5_own(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               H5Dclose, name_, op("H5Dcreate", name).c_str());
    const char* text = value.c_str();
    h5_check(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text), name_,
             op("H5Dwrite", name).c_str());
  }

  // ---- reading ------------------------------------------------------------------------------

  bool has_link(hid_t loc, const std::string& name) const {
    return h5_check(H5Lexists(loc, name.c_str(), H5P_DEFAULT), name_, op("H5Lexists", name).c_str()) > 0;
  }

  bool has_attribute(hid_t loc, const std::string& name) const {
    return h5_check(H5Aexists(loc, name.c_str()), name_, op("H5Aexists", name).c_str()) > 0;
  }

  H5Handle open_group(hid_t loc, const std::string& name) const {
    if (!has_link(loc, name)) corrupt("no group '" + name + "'");
    return h5_own(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose, name_, op("H5Gopen", name).c_str());
  }

  H5Handle open_dataset(hid_t loc, const std::string& name) const {
    if (!has_link(loc, name)) corrupt("no dataset '" + name + "'");
    return h5_own(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose, name_, op("H5Dopen", name).c_str());
  }

  /// Names of the links in a group, sorted by name.
  std::vector<std::string> link_names(hid_t group, const std::string& what) const {
    H5G_info_t info{};
    h5_check(H5Gget_info(group, &info), name_, op("H5Gget_info", what).c_str());
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(info.nlinks));
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t length =
          H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (length < 0) throw_hdf5_error(name_, op("H5Lget_name_by_idx", what));
      std::string link(static_cast<std::size_t>(length) + 1, '\0');
      if (H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, link.data(), link.size(),
                             H5P_DEFAULT) < 0)
        throw_hdf5_error(name_, op("H5Lget_name_by_idx", what));
      link.resize(static_cast<std::size_t>(length));
      names.push_back(std::move(link));
    }
    return names;
  }

  std::vector<std::string> attribute_names(hid_t loc, const std::string& what) const {
    std::vector<std::string> names;
    hsize_t index = 0;
    auto collect = [](hid_t, const char* attr, const H5A_info_t*, void* data) -> herr_t {
      static_cast<std::vector<std::string>*>(data)->emplace_back(attr);
      return 0;
    };
    h5_check(H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names), name_,
             op("H5Aiterate", what).c_str());
    return names;
  }

  /// Length of a 1-D dataset.
  std::size_t length_of(hid_t dset, const std::string& what) const {
    H5Handle space = h5_own(H5Dget_space(dset), H5Sclose, name_, op("H5Dget_space", what).c_str());
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != 1) corrupt("'" + what + "' is not one-dimensional");
    hsize_t dims[1] = {0};
    h5_check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), name_,
             op("H5Sget_simple_extent_dims", what).c_str());
    return static_cast<std::size_t>(dims[0]);
  }

  H5T_class_t class_of(hid_t dset, const std::string& what) const {
    H5Handle type = h5_own(H5Dget_type(dset), H5Tclose, name_, op("H5Dget_type", what).c_str());
    const H5T_class_t c = H5Tget_class(type.get());
    if (c == H5T_NO_CLASS) throw_hdf5_error(name_, op("H5Tget_class", what));
    return c;
  }

  template <class T>
  std::vector<T> read_numbers(hid_t dset, const std::string& what, hid_t mem_type) const {
    const H5T_class_t c = class_of(dset, what);
    if (c != H5T_INTEGER && c != H5T_FLOAT) corrupt("'" + what + "' is not numeric");
    std::vector<T> values(length_of(dset, what));
    if (!values.empty())
      h5_check(H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), name_,
               op("H5Dread", what).c_str());
    return values;
  }

  template <class T>
  std::vector<T> read_numbers(hid_t loc, const std::string& name, const std::string& what,
                              hid_t mem_type) const {
    H5Handle dset = open_dataset(loc, name);
    return read_numbers<T>(dset.get(), what, mem_type);
  }

  /// Strings of a dataset (1-D, or scalar when \p scalar) or of an attribute: variable-length
  /// or fixed-length, any character set.
  std::vector<std::string> read_strings(hid_t object, bool attribute, bool scalar,
                                        const std::string& what) const {
    H5Handle file_type = attribute
                             ? h5_own(H5Aget_type(object), H5Tclose, name_, op("H5Aget_type", what).c_str())
                             : h5_own(H5Dget_type(object), H5Tclose, name_, op("H5Dget_type", what).c_str());
    if (H5Tget_class(file_type.get()) != H5T_STRING) corrupt("'" + what + "' is not a string");
    H5Handle space = attribute
                         ? h5_own(H5Aget_space(object), H5Sclose, name_, op("H5Aget_space", what).c_str())
                         : h5_own(H5Dget_space(object), H5Sclose, name_, op("H5Dget_space", what).c_str());
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != (scalar ? 0 : 1))
      corrupt("'" + what + "' is not " + (scalar ? "a scalar" : "one-dimensional"));
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    if (count < 0) throw_hdf5_error(name_, op("H5Sget_simple_extent_npoints", what));
    const auto n = static_cast<std::size_t>(count);
    std::vector<std::string> out(n);
    if (n == 0) return out;

    H5Handle mem_type = h5_own(H5Tcopy(H5T_C_S1), H5Tclose, name_, "H5Tcopy(string)");
    h5_check(H5Tset_cset(mem_type.get(), H5Tget_cset(file_type.get())), name_, "H5Tset_cset");
    const htri_t variable = H5Tis_variable_str(file_type.get());
    if (variable < 0) throw_hdf5_error(name_, op("H5Tis_variable_str", what));
    auto read = [&](void* buffer) {
      if (attribute)
        h5_check(H5Aread(object, mem_type.get(), buffer), name_, op("H5Aread", what).c_str());
      else
        h5_check(H5Dread(object, mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer), name_,
                 op("H5Dread", what).c_str());
    };
    if (variable > 0) {
      h5_check(H5Tset_size(mem_type.get(), H5T_VARIABLE), name_, "H5Tset_size(variable)");
      std::vector<char*> pointers(n, nullptr);
      read(pointers.data());
      for (std::size_t i = 0; i < n; ++i)
        if (pointers[i]) out[i] = pointers[i];
#if H5_VERSION_GE(1, 12, 0)
      H5Treclaim(mem_type.get(), space.get(), H5P_DEFAULT, pointers.data());
#else
      H5Dvlen_reclaim(mem_type.get(), space.get(), H5P_DEFAULT, pointers.data());
#endif
    } else {
      const std::size_t size = H5Tget_size(file_type.get());
      if (size == 0) throw_hdf5_error(name_, op("H5Tget_size", what));
      h5_check(H5Tset_size(mem_type.get(), size), name_, "H5Tset_size");
      h5_check(H5Tset_strpad(mem_type.get(), H5T_STR_NULLPAD), name_, "H5Tset_strpad");
      std::vector<char> buffer(n * size);
      read(buffer.data());
      for (std::size_t i = 0; i < n; ++i) {
        const char* s = buffer.data() + i * size;
        out[i].assign(s, strnlen(s, size));
      }
    }
    return out;
  }

  std::string read_string_attribute(hid_t loc, const std::string& name) const {
    if (!has_attribute(loc, name)) corrupt("no attribute '" + name + "'");
    H5Handle attr =
        h5_own(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, name_, op("H5Aopen", name).c_str());
    return read_strings(attr.get(), true, true, "attribute " + name).front();
  }

  std::int64_t read_integer_attribute(hid_t loc, const std::string& name) const {
    if (!has_attribute(loc, name)) corrupt("no attribute '" + name + "'");
    H5Handle attr =
        h5_own(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, name_, op("H5Aopen", name).c_str());
    H5Handle type = h5_own(H5Aget_type(attr.get()), H5Tclose, name_, "H5Aget_type");
    H5Handle space = h5_own(H5Aget_space(attr.get()), H5Sclose, name_, "H5Aget_space");
    if (H5Tget_class(type.get()) != H5T_INTEGER || H5Sget_simple_extent_npoints(space.get()) != 1)
      corrupt("attribute '" + name + "' is not an integer");
    std::int64_t value = 0;
    h5_check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), name_, op("H5Aread", name).c_str());
    return value;
  }

  std::vector<std::string> read_string_column(hid_t loc, const std::string& name,
                                              const std::string& what) const {
    H5Handle dset = open_dataset(loc, name);
    return read_strings(dset.get(), false, false, what);
  }

  [[noreturn]] void corrupt(const std::string& why) const {
    throw CorruptResultsError(name_ + ": not an xbarsweep results file: " + why);
  }

 private:
  static std::string op(const char* call, const std::string& object) {
    return std::string(call) + "(" + object + ")";
  }

  std::string name_;
};

std::string iso_time_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

/// Text of a value in a mixed-type column; read back exactly with parse_value_text.
std::string value_text(const config::Value& v) {
  switch (v.index()) {
    case kTagBool:
      return std::get<bool>(v) ? "true" : "false";
    case kTagInt:
      return std::to_string(std::get<std::int64_t>(v));
    case kTagReal: {
      char text[40];
      std::snprintf(text, sizeof text, "%.17g", std::get<double>(v));
      return text;
    }
    default:
      return std::get<std::string>(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Building columns from records.

/// Finds the column of the k-th key of a record. Consecutive records almost always have the
/// same keys in the same order, so the previous record's column at position k is tried first.
template <class Column>
class ColumnCache {
 public:
  explicit ColumnCache(std::map<std::string, Column, std::less<>>& columns) : columns_(columns) {}

  Column& at(std::size_t k, const std::string& key) {
    if (k < cache_.size() && *cache_[k].first == key) return *cache_[k].second;
    auto it = columns_.try_emplace(key).first;
    if (k >= cache_.size()) cache_.resize(k + 1);
    cache_[k] = {&it->first, &it->second};
    return it->second;
  }

 private:
  std::map<std::string, Column, std::less<>>& columns_;
  std::vector<std::pair<const std::string*, Column*>> cache_;
};

struct ParamColumn {
  unsigned seen = 0;        // bit t set when type tag t occurs
  std::size_t present = 0;  // rows holding a value
  std::vector<double> reals;
  std::vector<std::int64_t> ints;
  std::vector<std::int8_t> bools;
  std::vector<const char*> strings;     // into the records, or into owned_text
  std::vector<std::string> owned_text;  // mixed columns
  std::vector<std::int8_t> tags;        // written when some row is absent or types are mixed

  int single_type() const {
    for (int t = 0; t < 4; ++t)
      if (seen == (1u << t)) return t;
    return -1;
  }
};

struct MetricColumn {
  std::vector<double> values;
  std::vector<std::uint8_t> present;
  std::size_t count = 0;
};

struct ArrayColumn {
  std::size_t total = 0;
  std::vector<std::int64_t> offsets;
  std::vector<double> values;
  std::vector<std::uint8_t> present;
  std::size_t count = 0;
};

void write_params(const H5File& f, hid_t points, const std::vector<PointRecord>& records) {
  const std::size_t n = records.size();
  std::map<std::string, ParamColumn, std::less<>> columns;
  {
    ColumnCache<ParamColumn> cache(columns);
    for (const auto& r : records) {
      std::size_t k = 0;
      for (const auto& [path, value] : r.params.entries()) {
        ParamColumn& c = cache.at(k++, path);
        c.seen |= 1u << value.index();
        ++c.present;
      }
    }
  }
  for (auto& [path, c] : columns) {
    const int type = c.single_type();
    if (type == kTagReal) c.reals.assign(n, std::numeric_limits<double>::quiet_NaN());
    if (type == kTagInt) c.ints.assign(n, kMissingInt);
    if (type == kTagBool) c.bools.assign(n, -1);
    if (type == kTagString || type < 0) c.strings.assign(n, "");
    if (type < 0) c.owned_text.resize(n);
    if (type < 0 || c.present < n) c.tags.assign(n, kAbsent);
  }
  {
    ColumnCache<ParamColumn> cache(columns);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t k = 0;
      for (const auto& [path, value] : records[i].params.entries()) {
        ParamColumn& c = cache.at(k++, path);
        const auto tag = static_cast<std::int8_t>(value.index());
        if (!c.tags.empty()) c.tags[i] = tag;
        if (c.single_type() < 0) {
          c.owned_text[i] = value_text(value);
          c.strings[i] = c.owned_text[i].c_str();
          continue;
        }
        switch (tag) {
          case kTagBool:
            c.bools[i] = std::get<bool>(value) ? 1 : 0;
            break;
          case kTagInt:
            c.ints[i] = std::get<std::int64_t>(value);
            break;
          case kTagReal:
            c.reals[i] = std::get<double>(value);
            break;
          default:
            c.strings[i] = std::get<std::string>(value).c_str();
        }
      }
    }
  }

  H5Handle group = f.create_group(points, "params");
  H5Handle types_group = f.create_group(points, "params_types");
  for (const auto& [path, c] : columns) {
    H5Handle dset;
    const char* type_name = "mixed";
    const char* missing = "\"\" (empty string)";
    switch (c.single_type()) {
      case kTagReal:
        dset = f.write_column(group.get(), path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c.reals);
        type_name = "real";
        missing = "NaN";
        break;
      case kTagInt:
        dset = f.write_column(group.get(), path, H5T_STD_I64LE, H5T_NATIVE_INT64, c.ints);
        type_name = "int";
        missing = "-9223372036854775808 (INT64_MIN)";
        break;
      case kTagBool:
        dset = f.write_column(group.get(), path, H5T_STD_I8LE, H5T_NATIVE_INT8, c.bools);
        type_name = "bool";
        missing = "-1";
        break;
      case kTagString:
        dset = f.write_string_column(group.get(), path, c.strings);
        type_name = "string";
        break;
      default:
        dset = f.write_string_column(group.get(), path, c.strings);
    }
    f.write_string_attribute(dset.get(), "type", type_name);
    f.write_string_attribute(dset.get(), "missing", missing);
    if (!c.tags.empty()) f.write_column(types_group.get(), path, H5T_STD_I8LE, H5T_NATIVE_INT8, c.tags);
  }
}

void write_metrics(const H5File& f, hid_t points, const std::vector<PointRecord>& records) {
  const std::size_t n = records.size();
  std::map<std::string, MetricColumn, std::less<>> columns;
  {
    ColumnCache<MetricColumn> cache(columns);
    for (const auto& r : records) {
      std::size_t k = 0;
      for (const auto& entry : r.metrics) ++cache.at(k++, entry.first).count;
    }
  }
  for (auto& [name, c] : columns) {
    c.values.assign(n, std::numeric_limits<double>::quiet_NaN());
    if (c.count < n) c.present.assign(n, 0);
  }
  {
    ColumnCache<MetricColumn> cache(columns);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t k = 0;
      for (const auto& [name, value] : records[i].metrics) {
        MetricColumn& c = cache.at(k++, name);
        c.values[i] = value;
        if (!c.present.empty()) c.present[i] = 1;
      }
    }
  }
  H5Handle group = f.create_group(points, "metrics");
  H5Handle present_group = f.create_group(points, "metrics_present");
  for (const auto& [name, c] : columns) {
    H5Handle dset = f.write_column(group.get(), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c.values);
    f.write_string_attribute(dset.get(), "missing", "NaN");
    if (!c.present.empty())
      f.write_column(present_group.get(), name, H5T_STD_U8LE, H5T_NATIVE_UINT8, c.present);
  }
}

void write_arrays(const H5File& f, hid_t points, const std::vector<PointRecord>& records) {
  const std::size_t n = records.size();
  std::map<std::string, ArrayColumn, std::less<>> columns;
  for (const auto& r : records)
    for (const auto& [name, values] : r.arrays) {
      ArrayColumn& c = columns[name];
      ++c.count;
      c.total += values.size();
    }
  for (auto& [name, c] : columns) {
    c.values.reserve(c.total);
    c.offsets.assign(n + 1, 0);
    if (c.count < n) c.present.assign(n, 0);
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& [name, c] : columns) {
      auto it = records[i].arrays.find(name);
      if (it != records[i].arrays.end()) {
        c.values.insert(c.values.end(), it->second.begin(), it->second.end());
        if (!c.present.empty()) c.present[i] = 1;
      }
      c.offsets[i + 1] = static_cast<std::int64_t>(c.values.size());
    }
  }
  H5Handle group = f.create_group(points, "arrays");
  for (const auto& [name, c] : columns) {
    H5Handle array_group = f.create_group(group.get(), name);
    f.write_column(array_group.get(), "values", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c.values);
    f.write_column(array_group.get(), "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, c.offsets);
    if (!c.present.empty())
      f.write_column(array_group.get(), "present", H5T_STD_U8LE, H5T_NATIVE_UINT8, c.present);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading.

bool parse_value_text(const std::string& text, std::int8_t tag, config::Value& out) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  switch (tag) {
    case kTagBool:
      if (text != "true" && text != "false") return false;
      out = text == "true";
      return true;
    case kTagInt: {
      const long long v = std::strtoll(begin, &end, 10);
      if (text.empty() || *end != '\0' || errno == ERANGE) return false;
      out = static_cast<std::int64_t>(v);
      return true;
    }
    case kTagReal: {
      const double v = std::strtod(begin, &end);
      if (text.empty() || *end != '\0') return false;
      out = v;
      return true;
    }
    case kTagString:
      out = text;
      return true;
    default:
      return false;
  }
}

void read_params(const H5File& f, hid_t points, std::vector<PointRecord>& records) {
  const std::size_t n = records.size();
  H5Handle group = f.open_group(points, "params");
  const bool has_types = f.has_link(points, "params_types");
  H5Handle types_group = has_types ? f.open_group(points, "params_types") : H5Handle();

  for (const std::string& path : f.link_names(group.get(), "points/params")) {
    const std::string what = "points/params/" + path;
    H5Handle dset = f.open_dataset(group.get(), path);
    if (f.length_of(dset.get(), what) != n)
      f.corrupt("'" + what + "' has " + std::to_string(f.length_of(dset.get(), what)) +
                " rows, 'points/id' has " + std::to_string(n));
    std::string type_name;
    if (f.has_attribute(dset.get(), "type")) type_name = f.read_string_attribute(dset.get(), "type");
    std::vector<std::int8_t> tags;
    if (has_types && f.has_link(types_group.get(), path)) {
      tags = f.read_numbers<std::int8_t>(types_group.get(), path, "points/params_types/" + path,
                                         H5T_NATIVE_INT8);
      if (tags.size() != n) f.corrupt("'points/params_types/" + path + "' has the wrong length");
    }
    auto is_present = [&](std::size_t i) { return tags.empty() || tags[i] != kAbsent; };

    const H5T_class_t cls = f.class_of(dset.get(), what);
    if (type_name.empty()) type_name = cls == H5T_FLOAT ? "real" : cls == H5T_INTEGER ? "int" : "string";
    if (type_name == "real" && cls == H5T_FLOAT) {
      const auto v = f.read_numbers<double>(dset.get(), what, H5T_NATIVE_DOUBLE);
      for (std::size_t i = 0; i < n; ++i)
        if (is_present(i)) records[i].params.set(path, v[i]);
    } else if (type_name == "int" && cls == H5T_INTEGER) {
      const auto v = f.read_numbers<std::int64_t>(dset.get(), what, H5T_NATIVE_INT64);
      for (std::size_t i = 0; i < n; ++i)
        if (is_present(i)) records[i].params.set(path, v[i]);
    } else if (type_name == "bool" && cls == H5T_INTEGER) {
      const auto v = f.read_numbers<std::int8_t>(dset.get(), what, H5T_NATIVE_INT8);
      for (std::size_t i = 0; i < n; ++i)
        if (is_present(i)) records[i].params.set(path, v[i] != 0);
    } else if ((type_name == "string" || type_name == "mixed") && cls == H5T_STRING) {
      auto v = f.read_strings(dset.get(), false, false, what);
      const bool mixed = type_name == "mixed";
      if (mixed && tags.empty()) f.corrupt("mixed-type column '" + what + "' has no type tags");
      for (std::size_t i = 0; i < n; ++i) {
        if (!is_present(i)) continue;
        if (!mixed) {
          records[i].params.set(path, std::move(v[i]));
          continue;
        }
        config::Value value;
        if (!parse_value_text(v[i], tags[i], value))
          f.corrupt("row " + std::to_string(i) + " of '" + what + "' does not parse as its type");
        records[i].params.set(path, std::move(value));
      }
    } else {
      f.corrupt("'" + what + "' has type attribute '" + type_name + "' that does not match its HDF5 type");
    }
  }
}

std::vector<std::uint8_t> read_mask(const H5File& f, hid_t loc, const std::string& name,
                                    const std::string& what, std::size_t n) {
  auto mask = f.read_numbers<std::uint8_t>(loc, name, what, H5T_NATIVE_UINT8);
  if (mask.size() != n) f.corrupt("'" + what + "' has the wrong length");
  return mask;
}

void read_metrics(const H5File& f, hid_t points, std::vector<PointRecord>& records) {
  const std::size_t n = records.size();
  H5Handle group = f.open_group(points, "metrics");
  const bool has_present = f.has_link(points, "metrics_present");
  H5Handle present_group = has_present ? f.open_group(points, "metrics_present") : H5Handle();
  for (const std::string& name : f.link_names(group.get(), "points/metrics")) {
    const std::string what = "points/metrics/" + name;
    const auto values = f.read_numbers<double>(group.get(), name, what, H5T_NATIVE_DOUBLE);
    if (values.size() != n) f.corrupt("'" + what + "' has the wrong length");
    std::vector<std::uint8_t> present;
    if (has_present && f.has_link(present_group.get(), name))
      present = read_mask(f, present_group.get(), name, "points/metrics_present/" + name, n);
    for (std::size_t i = 0; i < n; ++i)
      if (present.empty() || present[i]) records[i].metrics.emplace(name, values[i]);
  }
}

void read_arrays(const H5File& f, hid_t points, std::vector<PointRecord>& records) {
  const std::size_t n = records.size();
  H5Handle group = f.open_group(points, "arrays");
  for (const std::string& name : f.link_names(group.get(), "points/arrays")) {
    const std::string what = "points/arrays/" + name;
    H5Handle array_group = f.open_group(group.get(), name);
    const auto values =
        f.read_numbers<double>(array_group.get(), "values", what + "/values", H5T_NATIVE_DOUBLE);
    const auto offsets =
        f.read_numbers<std::int64_t>(array_group.get(), "offsets", what + "/offsets", H5T_NATIVE_INT64);
    if (offsets.size() != n + 1) f.corrupt("'" + what + "/offsets' does not have N+1 rows");
    if (offsets.front() != 0 || static_cast<std::uint64_t>(offsets.back()) != values.size())
      f.corrupt("'" + what + "/offsets' do not span '" + what + "/values'");
    for (std::size_t i = 0; i < n; ++i)
      if (offsets[i + 1] < offsets[i]) f.corrupt("'" + what + "/offsets' decrease");
    std::vector<std::uint8_t> present;
    if (f.has_link(array_group.get(), "present"))
      present = read_mask(f, array_group.get(), "present", what + "/present", n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!present.empty() && !present[i]) continue;
      records[i].arrays.emplace(
          name, std::vector<double>(values.begin() + offsets[i], values.begin() + offsets[i + 1]));
    }
  }
}

Results read_open_snapshot(const H5File& f, hid_t file) {
  Results results;
  const std::string format =
      f.has_attribute(file, "format") ? f.read_string_attribute(file, "format") : std::string();
  if (format.empty()) f.corrupt("it has no root attribute 'format'");
  if (format != kFormatName) f.corrupt("its format attribute is '" + format + "', not '" + kFormatName + "'");
  const std::int64_t version = f.read_integer_attribute(file, "format_version");
  if (version != kFormatVersion)
    f.corrupt("format_version " + std::to_string(version) +
              " is not supported (this xbarsweep reads version " + std::to_string(kFormatVersion) + ")");

  RunInfo& info = results.info;
  info.experiment = f.read_string_attribute(file, "experiment");
  info.kind = f.read_string_attribute(file, "kind");
  if (f.has_attribute(file, "planned_points"))
    info.planned_points = static_cast<std::uint64_t>(f.read_integer_attribute(file, "planned_points"));
  {
    H5Handle config = f.open_dataset(file, "config");
    info.config_text = f.read_strings(config.get(), false, true, "config").front();
  }
  {
    H5Handle versions = f.open_group(file, "versions");
    for (const std::string& name : f.attribute_names(versions.get(), "versions"))
      info.versions[name] = f.read_string_attribute(versions.get(), name);
  }
  info.swept_paths = f.read_string_column(file, "swept_paths", "swept_paths");
  if (f.has_attribute(file, "merged_from")) {
    std::istringstream lines(f.read_string_attribute(file, "merged_from"));
    for (std::string line; std::getline(lines, line);) info.merged_from.push_back(line);
  }

  H5Handle points = f.open_group(file, "points");
  auto ids = f.read_string_column(points.get(), "id", "points/id");
  const std::size_t n = ids.size();
  auto column_length_check = [&](std::size_t length, const char* what) {
    if (length != n)
      f.corrupt(std::string("'") + what + "' has " + std::to_string(length) + " rows, 'points/id' has " +
                std::to_string(n));
  };
  auto status = f.read_string_column(points.get(), "status", "points/status");
  column_length_check(status.size(), "points/status");
  auto error = f.read_string_column(points.get(), "error", "points/error");
  column_length_check(error.size(), "points/error");
  auto host = f.read_string_column(points.get(), "host", "points/host");
  column_length_check(host.size(), "points/host");
  const auto index = f.read_numbers<std::uint64_t>(points.get(), "index", "points/index", H5T_NATIVE_UINT64);
  column_length_check(index.size(), "points/index");
  const auto rank = f.read_numbers<std::int32_t>(points.get(), "rank", "points/rank", H5T_NATIVE_INT32);
  column_length_check(rank.size(), "points/rank");
  const auto start =
      f.read_numbers<double>(points.get(), "start_time", "points/start_time", H5T_NATIVE_DOUBLE);
  column_length_check(start.size(), "points/start_time");
  const auto end = f.read_numbers<double>(points.get(), "end_time", "points/end_time", H5T_NATIVE_DOUBLE);
  column_length_check(end.size(), "points/end_time");

  auto& records = results.points;
  records.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    PointRecord& r = records[i];
    r.id = std::move(ids[i]);
    if (status[i] == "done") {
      r.status = PointStatus::Done;
    } else if (status[i] == "failed") {
      r.status = PointStatus::Failed;
    } else {
      f.corrupt("row " + std::to_string(i) + " of 'points/status' is '" + status[i] +
                "', not 'done' or 'failed'");
    }
    r.error = std::move(error[i]);
    r.host = std::move(host[i]);
    r.index = index[i];
    r.rank = rank[i];
    r.start_time = start[i];
    r.end_time = end[i];
  }
  read_params(f, points.get(), records);
  read_metrics(f, points.get(), records);
  read_arrays(f, points.get(), records);
  return results;
}

}  // namespace

void write_snapshot(const std::string& file_name, const RunInfo& info,
                    const std::vector<PointRecord>& points) {
  const std::lock_guard<std::mutex> lock(hdf5_mutex());
  const H5File f(file_name);
  H5Handle file = f.create();
  const hid_t root = file.get();
  f.write_string_attribute(root, "format", kFormatName);
  f.write_scalar_attribute<std::int64_t>(root, "format_version", H5T_STD_I64LE, H5T_NATIVE_INT64,
                                         kFormatVersion);
  f.write_string_attribute(root, "experiment", info.experiment);
  f.write_string_attribute(root, "kind", info.kind);
  f.write_string_attribute(root, "updated", iso_time_now());
  f.write_scalar_attribute<std::uint64_t>(root, "planned_points", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                                          info.planned_points);
  f.write_string_scalar(root, "config", info.config_text);
  if (!info.merged_from.empty()) {
    std::string lines;
    for (const auto& line : info.merged_from) lines += line + '\n';
    f.write_string_attribute(root, "merged_from", lines);
  }
  {
    H5Handle versions = f.create_group(root, "versions");
    for (const auto& [name, version] : info.versions) {
      if (!valid_column_name(name))
        throw StoreError(file_name + ": software name '" + name + "' cannot be an HDF5 attribute");
      f.write_string_attribute(versions.get(), name, version);
    }
  }
  {
    std::vector<const char*> swept;
    for (const auto& p : info.swept_paths) swept.push_back(p.c_str());
    f.write_string_column(root, "swept_paths", swept);
  }
  {
    const std::size_t n = points.size();
    H5Handle group = f.create_group(root, "points");
    std::vector<const char*> id(n), status(n), error(n), host(n);
    std::vector<std::uint64_t> index(n);
    std::vector<std::int32_t> rank(n);
    std::vector<double> start(n), end(n);
    for (std::size_t i = 0; i < n; ++i) {
      const PointRecord& r = points[i];
      id[i] = r.id.c_str();
      status[i] = r.status == PointStatus::Done ? "done" : "failed";
      error[i] = r.error.c_str();
      host[i] = r.host.c_str();
      index[i] = r.index;
      rank[i] = r.rank;
      start[i] = r.start_time;
      end[i] = r.end_time;
    }
    f.write_string_column(group.get(), "id", id);
    f.write_string_column(group.get(), "status", status);
    f.write_string_column(group.get(), "error", error);
    f.write_string_column(group.get(), "host", host);
    f.write_column(group.get(), "index", H5T_STD_U64LE, H5T_NATIVE_UINT64, index);
    f.write_column(group.get(), "rank", H5T_STD_I32LE, H5T_NATIVE_INT32, rank);
    f.write_column(group.get(), "start_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, start);
    f.write_column(group.get(), "end_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, end);
    write_params(f, group.get(), points);
    write_metrics(f, group.get(), points);
    write_arrays(f, group.get(), points);
  }
  h5_check(H5Fflush(file.get(), H5F_SCOPE_LOCAL), file_name, "H5Fflush");
  file.close(file_name, "H5Fclose");
}

Results read_snapshot(const std::string& file_name) {
  const std::lock_guard<std::mutex> lock(hdf5_mutex());
  const H5File f(file_name);
  {
    // Check the signature ourselves: gives a clear message and never hands HDF5 an empty or
    // foreign file. Open errors (permissions, I/O) are StoreError, not corruption.
    FileDescriptor fd = open_or_throw(file_name, O_RDONLY);
    char bytes[8];
    ssize_t got;
    do {
      got = ::read(fd.get(), bytes, sizeof bytes);
    } while (got < 0 && errno == EINTR);
    if (got < 0) throw_errno(file_name, "read", errno);
    if (got == 0) f.corrupt("the file is empty");
    static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    if (got < 8 || std::memcmp(bytes, kSignature, 8) != 0)
      f.corrupt("it is not an HDF5 file (no HDF5 signature)");
  }
  try {
    H5Handle file = f.open_read_only();
    return read_open_snapshot(f, file.get());
  } catch (const CorruptResultsError&) {
    throw;
  } catch (const std::bad_alloc&) {
    f.corrupt("a dataset claims an implausible size");
  } catch (const std::length_error&) {
    f.corrupt("a dataset claims an implausible size");
  } catch (const StoreError& e) {
    // An HDF5 call failed on a file that has the signature: truncated or damaged.
    std::string why = e.what();
    const std::string prefix = file_name + ": ";
    if (why.compare(0, prefix.size(), prefix) == 0) why.erase(0, prefix.size());
    f.corrupt(why);
  }
}

}  // namespace xbarsweep::store::detail
