#pragma once
// Test helper: .npy members and zip archives written byte by byte as numpy's np.savez (stored) and
// np.savez_compressed (deflated) write them (APPNOTE.TXT 6.3; NEP 1), so that the reader is tested
// on the real layout without Python.
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace xbarsweep::test {

using Bytes = std::string;

/// A .npy file (version 1.0): the header dict padded with spaces to a multiple of 64, then \p data.
inline Bytes npy(const std::string& descr, const std::vector<std::int64_t>& shape, const void* data,
                 std::size_t size, bool fortran = false) {
  std::string dims;
  for (const auto d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.erase(dims.size() - 2);  // (3,) for one dimension, (2, 3) for more
  if (shape.size() == 1) dims.pop_back();
  std::string header = "{'descr': " + (descr.front() == '[' ? descr : "'" + descr + "'") +
                       ", 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data), size);
  return out;
}

template <class T>
Bytes npy(const std::string& descr, const std::vector<std::int64_t>& shape, const std::vector<T>& values) {
  return npy(descr, shape, values.data(), values.size() * sizeof(T));
}

inline void put(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

inline Bytes deflate_raw(const Bytes& in) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  Bytes out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// A zip archive of \p members (name, bytes), stored or deflated, as \p path.
inline void write_zip(const std::string& path, const std::vector<std::pair<std::string, Bytes>>& members,
                      bool deflated) {
  Bytes file, directory;
  for (const auto& [name, data] : members) {
    const Bytes body = deflated ? deflate_raw(data) : data;
    const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    const auto offset = file.size();
    const int method = deflated ? 8 : 0;
    // The fields both headers share, from "version needed" to the name's and extra's lengths.
    const auto common = [&](Bytes& out) {
      put(out, 20, 2);
      put(out, 0, 2);
      put(out, method, 2);
      put(out, 0, 2);
      put(out, 0x21, 2);
      put(out, crc, 4);
      put(out, body.size(), 4);
      put(out, data.size(), 4);
      put(out, name.size(), 2);
      put(out, 0, 2);
    };
    put(file, 0x04034b50, 4);
    common(file);
    file += name + body;
    put(directory, 0x02014b50, 4);
    put(directory, 20, 2);  // version made by
    common(directory);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 4);
    put(directory, offset, 4);
    directory += name;
  }
  const auto directory_offset = file.size();
  file += directory;
  put(file, 0x06054b50, 4);
  put(file, 0, 2);
  put(file, 0, 2);
  put(file, members.size(), 2);
  put(file, members.size(), 2);
  put(file, directory.size(), 4);
  put(file, directory_offset, 4);
  put(file, 0, 2);
  std::ofstream(path, std::ios::binary) << file;
}

}  // namespace xbarsweep::test
