#include "journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "posix_file.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::store::detail {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  const char bytes[4] = {static_cast<char>(v & 0xffu), static_cast<char>((v >> 8) & 0xffu),
                         static_cast<char>((v >> 16) & 0xffu), static_cast<char>((v >> 24) & 0xffu)};
  out.append(bytes, 4);
}

std::uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint32_t>(u[0]) | (static_cast<std::uint32_t>(u[1]) << 8) |
         (static_cast<std::uint32_t>(u[2]) << 16) | (static_cast<std::uint32_t>(u[3]) << 24);
}

std::uint32_t crc_of(std::string_view payload) {
  // zlib's crc32 takes a uInt length: feed large payloads in pieces.
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(payload.data());
  std::size_t left = payload.size();
  while (left > 0) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

}  // namespace

void append_frame(std::string& out, std::string_view payload) {
  if (payload.size() > 0xffffffffu) throw StoreError("journal: a record of more than 4 GiB");
  put_u32(out, kJournalMagic);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc_of(payload));
  out.append(payload.data(), payload.size());
}

JournalContents parse_journal(std::string_view bytes, const std::string& path) {
  JournalContents contents;
  contents.exists = true;
  contents.file_bytes = bytes.size();
  std::size_t pos = 0;
  while (bytes.size() - pos >= kFrameHeaderBytes) {
    const char* header = bytes.data() + pos;
    if (get_u32(header) != kJournalMagic) break;
    const std::uint32_t length = get_u32(header + 4);
    if (length > bytes.size() - pos - kFrameHeaderBytes) break;
    const std::string_view payload = bytes.substr(pos + kFrameHeaderBytes, length);
    if (crc_of(payload) != get_u32(header + 8)) break;
    try {
      contents.records.push_back(decode(payload));
    } catch (const StoreError& e) {
      throw CorruptResultsError(path + ": not an xbarsweep journal: the record at byte " +
                                std::to_string(pos) + " passes its CRC but " + e.what());
    }
    pos += kFrameHeaderBytes + length;
  }
  contents.good_bytes = pos;
  return contents;
}

JournalContents read_journal(const std::string& path) {
  std::string bytes;
  if (!read_whole_file(path, bytes)) return {};
  return parse_journal(bytes, path);
}

}  // namespace xbarsweep::store::detail
