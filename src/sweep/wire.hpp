#pragma once
// Messages between workers and the coordinator, and their byte layout. Private to sweep/.
//   request (worker -> coordinator): u8 flags, u32 count, count x (u32 length, encoded record)
//   assign  (coordinator -> worker): u64 count, count x u64 point index; count 0 = stop
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "xbarsweep/error.hpp"
#include "xbarsweep/sweep/mpi.hpp"

namespace xbarsweep::sweep::wire {

constexpr int kRequestTag = 101;
constexpr int kAssignTag = 102;
constexpr std::uint8_t kFlagInterrupted = 1;

class Writer {
 public:
  template <class T>
  void put(T value) {
    const auto* p = reinterpret_cast<const char*>(&value);
    bytes_.append(p, sizeof(T));
  }
  void put_bytes(std::string_view s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    bytes_.append(s.data(), s.size());
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string_view get_bytes() {
    const auto n = get<std::uint32_t>();
    need(n);
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  void need(std::size_t n) const {
    if (pos_ + n > bytes_.size()) throw InternalError("truncated sweep message");
  }
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

/// Waits for \p request without spinning a core: OpenMPI's blocking calls busy-poll, which on a
/// 2-core laptop would take the CPU from the coordinator thread or the other rank.
inline void wait_politely(MPI_Request& request) {
  auto pause = std::chrono::microseconds(2);
  int done = 0;
  while (true) {
    XBARSWEEP_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(500));
  }
}

inline void send(const std::string& bytes, int dest, int tag, MPI_Comm comm) {
  MPI_Request request;
  XBARSWEEP_MPI(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, comm, &request));
  wait_politely(request);
}

/// Receives a message of unknown size already known to be waiting (after a probe).
inline std::string receive(const MPI_Status& probed, int tag, MPI_Comm comm) {
  int count = 0;
  XBARSWEEP_MPI(MPI_Get_count(&probed, MPI_BYTE, &count));
  std::string bytes(static_cast<std::size_t>(count), '\0');
  XBARSWEEP_MPI(MPI_Recv(bytes.data(), count, MPI_BYTE, probed.MPI_SOURCE, tag, comm, MPI_STATUS_IGNORE));
  return bytes;
}

/// Probes politely for a message from \p source with \p tag, then receives it.
inline std::string receive_from(int source, int tag, MPI_Comm comm) {
  auto pause = std::chrono::microseconds(2);
  MPI_Status status;
  int found = 0;
  while (true) {
    XBARSWEEP_MPI(MPI_Iprobe(source, tag, comm, &found, &status));
    if (found) return receive(status, tag, comm);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(500));
  }
}

}  // namespace xbarsweep::sweep::wire
