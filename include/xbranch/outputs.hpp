// Results leave xbranch two ways: one-value files for the plugin
// (all-or-nothing, atomic, secrets 0600) and a rendering on stdout.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "xbranch/lifecycle.hpp"

namespace xbranch {

// Temp file in the target's folder; commit() fsyncs and renames it into
// place; the destructor removes the temp file if commit never ran.
class AtomicFile {
  public:
    AtomicFile(std::filesystem::path target, mode_t mode);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    AtomicFile(AtomicFile&& other) noexcept;
    AtomicFile& operator=(AtomicFile&&) = delete;

    void write(const std::string& data);  // throws Error(Io)
    void commit();                        // throws Error(Io)
    const std::filesystem::path& temp_path() const { return m_temp; }

  private:
    std::filesystem::path m_target;
    std::filesystem::path m_temp;
    int m_fd = -1;
    bool m_committed = false;
};

struct OutputFile {
    std::string name;
    std::string value;
    bool secret = false;
};

std::vector<OutputFile> output_files(const CreateResult& result);

// Makes sure `dir` exists (creating it if its parent does) and is writable;
// run before anything is created, so a bad folder costs no branch.
void preflight_output_dir(const std::filesystem::path& dir);

// Writes every file to a temp file first, then renames them all: a failure
// leaves no new file behind.
void write_output_files(const std::filesystem::path& dir, const std::vector<OutputFile>& files);

enum class OutputFormat { Text, Json, Env };
std::string render(const CreateResult& result, OutputFormat format, bool show_secrets);

}  // namespace xbranch
