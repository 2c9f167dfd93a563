#pragma once
/// \file
/// \brief Named arrays in standard files, for the `tensors` data set: numpy's .npz (built in) and
/// any format registered from outside the data concept (HDF5: store::hdf5_array_format(), wired in
/// by the xbarsweep command). Free of LibTorch, so that a reader elsewhere implements it cheaply.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/error.hpp"

namespace xbarsweep::data {

/// \brief An array's shape and element type, named as numpy names it: "uint8", "int8", "int16",
/// "int32", "int64", "uint16", "uint32", "uint64", "float16", "float32", "float64", "complex64",
/// "complex128", "bool"; any other type is described in a few words ("string", "compound").
struct ArrayHeader {
  std::vector<std::int64_t> shape;
  std::string dtype;
  /// \brief The number of elements (1 for a scalar).
  std::int64_t count() const {
    std::int64_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
};

/// \brief An array read whole: its header and its elements in C (row-major) order, in this
/// machine's byte order.
struct ArrayData {
  ArrayHeader header;
  std::vector<unsigned char> bytes;
};

/// \brief How to read one file format. Every function throws DataError naming the file (and the
/// key) when the file cannot be read, is not of the format, or the key names no array.
struct ArrayFormat {
  std::string name;  ///< "numpy .npz", "HDF5": for messages
  /// \brief The names of the arrays the file holds (HDF5: dataset paths, "train/images").
  std::function<std::vector<std::string>(const std::string& file)> keys;
  /// \brief The header of array \p key; nothing when the file holds no object of that name
  /// (DataError when it holds one that is not an array, an HDF5 group).
  std::function<std::optional<ArrayHeader>(const std::string& file, const std::string& key)> header;
  /// \brief Array \p key, whole.
  std::function<ArrayData(const std::string& file, const std::string& key)> read;
};

/// \brief Registers \p format for files whose names end in any of \p extensions (".h5"),
/// replacing an earlier registration. Thread-safe; done once at start-up.
void register_array_format(const std::vector<std::string>& extensions, ArrayFormat format);

/// \brief The format of \p file by its extension: ".npz" (built in) or a registered one.
/// \throws DataError naming the file and the extensions known.
ArrayFormat array_format(const std::string& file);

/// \brief The extensions array_format() knows (".npz" and the registered ones), sorted.
std::vector<std::string> array_extensions();

/// \brief numpy's .npz (np.savez, np.savez_compressed): a zip archive (stored or deflated members,
/// zip64 included) of .npy files, version 1 to 3, little-endian, C order. Refuses Fortran order,
/// big-endian and structured arrays with a DataError naming the file and the key.
ArrayFormat npz_format();

/// \brief Bytes per element of \p dtype (ArrayHeader::dtype); 0 for a type without a fixed size.
std::size_t dtype_size(const std::string& dtype);

}  // namespace xbarsweep::data
