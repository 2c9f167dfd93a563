#pragma once
/// \file
/// \brief HDF5 files as named arrays for the data concept's `tensors` set (data::ArrayFormat): the
/// data concept knows no HDF5, so the xbarsweep command registers this reader at start-up.

#include "xbarsweep/data/array_file.hpp"

namespace xbarsweep::store {

/// \brief Reads HDF5 files (.h5, .hdf5): a key is a dataset's path ("images", "train/images");
/// integer and floating-point datasets of any byte order are read (HDF5 converts them to this
/// machine's order). Every HDF5 call is checked and holds the store's HDF5 lock (the library is not
/// thread-safe, and a run writes its results file while points read data). Errors are DataError
/// naming the file and the key (a group where a dataset was expected included).
data::ArrayFormat hdf5_array_format();

}  // namespace xbarsweep::store
