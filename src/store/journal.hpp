#pragma once
/// \file
/// \brief Internal: the append-only journal R.journal. Each record is one frame:
/// u32 magic, u32 payload length, u32 CRC-32 (zlib) of the payload, payload = encode(record),
/// all little-endian. A frame that is cut short or fails its CRC ends the journal: it is the
/// torn tail of a writer that was killed mid-write.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xbarsweep/store/record.hpp"

namespace xbarsweep::store::detail {

inline constexpr std::uint32_t kJournalMagic = 0x4A534258;  // "XBSJ" read as little-endian bytes
inline constexpr std::size_t kFrameHeaderBytes = 12;

/// \brief Appends one frame carrying \p payload to \p out.
void append_frame(std::string& out, std::string_view payload);

struct JournalContents {
  std::vector<PointRecord> records;  ///< in journal order
  std::uint64_t good_bytes = 0;      ///< length of the prefix made of complete, valid frames
  std::uint64_t file_bytes = 0;      ///< length of the file
  bool exists = false;
};

/// \brief Parses journal bytes up to the first torn or corrupt frame. \throws CorruptResultsError
/// naming \p path when a frame passes its CRC but does not decode (written by another version).
JournalContents parse_journal(std::string_view bytes, const std::string& path);

/// \brief Reads and parses the journal at \p path; a missing file is an empty journal.
/// \throws StoreError when the file exists but cannot be read.
JournalContents read_journal(const std::string& path);

}  // namespace xbarsweep::store::detail
