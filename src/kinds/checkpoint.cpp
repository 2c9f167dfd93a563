#include "xbarsweep/kinds/checkpoint.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "xbarsweep/config/hashing.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::kinds {
namespace {

constexpr std::string_view kMagic = "XBSCKPT1";
constexpr std::size_t kHeader = 8 + 8 + 8;

[[noreturn]] void fail(const std::string& path, const char* operation, int error) {
  throw CheckpointError(path + ": checkpoint " + operation + " failed: " + std::strerror(error));
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_u64(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path, "write", errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

PointCheckpoint::PointCheckpoint(std::string path, double interval_s, const std::atomic<bool>* stop)
    : path_(std::move(path)), interval_s_(interval_s), stop_(stop), last_(std::chrono::steady_clock::now()) {}

std::string PointCheckpoint::path_for(const std::string& cache_dir, const std::string& id) {
  return cache_dir + "/checkpoints/" + id + ".ckpt";
}

bool PointCheckpoint::due(bool epoch_end) const {
  if (!enabled()) return false;
  if (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) return true;
  if (interval_s_ <= 0) return epoch_end;
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count();
  return since >= interval_s_;
}

std::optional<std::string> PointCheckpoint::load() const {
  if (!enabled()) return std::nullopt;
  std::ifstream in(path_, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  std::string bytes(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::string problem;
  if (bytes.size() < kHeader || std::string_view(bytes).substr(0, 8) != kMagic) {
    problem = "not an xbarsweep checkpoint";
  } else if (get_u64(std::string_view(bytes).substr(8)) != bytes.size() - kHeader) {
    problem = "truncated";
  } else if (get_u64(std::string_view(bytes).substr(16)) !=
             config::fnv1a64(std::string_view(bytes).substr(kHeader))) {
    problem = "checksum mismatch";
  }
  if (problem.empty()) return bytes.substr(kHeader);
  set_aside(problem);
  return std::nullopt;
}

void PointCheckpoint::set_aside(const std::string& problem) const {
  const std::string aside = path_ + ".bad";
  std::rename(path_.c_str(), aside.c_str());
  std::fprintf(stderr, "xbarsweep: %s: %s; moved to %s, the point starts over\n", path_.c_str(),
               problem.c_str(), aside.c_str());
}

void PointCheckpoint::save(std::string_view payload) {
  if (!enabled()) return;
  const std::string dir = parent_of(path_);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw CheckpointError(dir + ": cannot create the checkpoint directory: " + error.message());
  std::string header(kMagic);
  put_u64(header, payload.size());
  put_u64(header, config::fnv1a64(payload));
  const std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, "open", errno);
  try {
    write_all(fd, header, tmp);
    write_all(fd, payload, tmp);
    if (::fsync(fd) != 0) fail(tmp, "fsync", errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    fail(tmp, "close", error);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    fail(path_, "rename", error);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on a directory
    ::close(dfd);
  }
  last_ = std::chrono::steady_clock::now();
}

void PointCheckpoint::remove() const {
  if (!enabled()) return;
  ::unlink(path_.c_str());
  // Temporary files of writers killed before their rename.
  const std::string dir = parent_of(path_);
  const std::string prefix = path_.substr(path_.find_last_of('/') + 1) + ".tmp.";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (std::string_view(e->d_name).substr(0, prefix.size()) == prefix)
        ::unlink((dir + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
}

}  // namespace xbarsweep::kinds
