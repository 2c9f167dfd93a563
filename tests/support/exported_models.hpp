#pragma once
// The TorchScript models of tests/support/export_models.py, exported once per test program into a
// fresh temporary directory by Debian's python3-torch (XBARSWEEP_PYTHON, set by ctest).
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace xbarsweep::testing {

/// \brief The directory holding mlp.pt, lenet5.pt, cnn.pt, ... (28x28 single-channel inputs, 10
/// classes). \throws std::runtime_error when the export fails.
inline const std::string& exported_models_dir() {
  static const std::string dir = [] {
    const char* python = std::getenv("XBARSWEEP_PYTHON");
    const char* source = std::getenv("XBARSWEEP_SOURCE_DIR");
    if (python == nullptr || source == nullptr)
      throw std::runtime_error("XBARSWEEP_PYTHON and XBARSWEEP_SOURCE_DIR must be set (ctest sets them)");
    std::string pattern = (std::filesystem::temp_directory_path() / "xbarsweep-models-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    const std::string command =
        std::string(python) + " " + source + "/tests/support/export_models.py " + pattern;
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
    static const std::string removed_at_exit = pattern;
    std::atexit([] { std::filesystem::remove_all(removed_at_exit); });
    return pattern;
  }();
  return dir;
}

/// \brief exported_models_dir()/NAME.
inline std::string exported_model(const std::string& name) { return exported_models_dir() + "/" + name; }

}  // namespace xbarsweep::testing
