// Results leave xbranch two ways: one-value files for the plugin
// (all-or-nothing, atomic, secrets 0600) and a rendering on stdout.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "xbranch/atomic_file.hpp"
#include "xbranch/connection.hpp"

namespace xbranch {

// What a create run hands over, as plain values.
struct OutputValues {
    std::string branch_name;
    std::string branch_id;
    std::string parent_id;
    std::string region;
    std::string status;  // "healthy", ...
    bool adopted = false;
    ConnectionInfo connection;
    ConnectionInfo pooled;  // the same credentials through the pooler endpoint
    // reset only: the id of the branch it replaced ("" when there was none);
    // rendered as "replacedId" (null for "") and a "replaced" line.
    std::optional<std::string> replaced_id;
};

struct OutputFile {
    std::string name;
    std::string value;
    bool secret = false;
};

std::vector<OutputFile> output_files(const OutputValues& values);

// The file names output_files() writes, in order.
std::vector<std::string> output_file_names();

// The folders one run made for its outputs, outermost first. Unless kept,
// the destructor removes them again, innermost first and each only while
// it is empty (rmdir): never a folder that was there before, never one
// that holds a file.
class MadeFolders {
  public:
    MadeFolders() = default;
    explicit MadeFolders(std::vector<std::filesystem::path> made) : m_made(std::move(made)) {}
    MadeFolders(MadeFolders&& other) noexcept;
    MadeFolders& operator=(MadeFolders&& other) noexcept;
    MadeFolders(const MadeFolders&) = delete;
    MadeFolders& operator=(const MadeFolders&) = delete;
    ~MadeFolders();

    void keep() { m_made.clear(); }  // the outputs were handed over
    const std::vector<std::filesystem::path>& paths() const { return m_made; }

  private:
    void remove() noexcept;
    std::vector<std::filesystem::path> m_made;
};

// Makes sure `dir` exists (mkdir -p, mode 0755), is a writable folder, and
// that nothing at a target name (a folder, a device) would stop a rename;
// run before anything is created, so a bad folder costs no branch.
// Returns the folders it made (a failed preflight removes them itself).
// Throws Error(Io).
[[nodiscard]] MadeFolders preflight_output_dir(
    const std::filesystem::path& dir, const std::vector<std::string>& names = output_file_names());

// Writes every file to a temp file first, then renames them all, then
// fsyncs the folder. On failure the folder holds exactly what it held
// before (the previous files are kept as hard links and put back).
void write_output_files(const std::filesystem::path& dir, const std::vector<OutputFile>& files);

// write_output_files in two halves. The constructor writes every file
// beside its target and flushes it to disk (the slow half: one flush per
// file), so that it can run while the caller waits for something else;
// commit() then puts them all in place as write_output_files does. Destroyed
// without commit(), it removes its temp files: the folder is left as it was.
class StagedOutputs {
  public:
    StagedOutputs(std::filesystem::path dir, std::vector<OutputFile> files);  // throws Error(Io)
    void commit();  // once; throws Error(Io)
    const std::vector<OutputFile>& files() const { return m_files; }
    const std::filesystem::path& dir() const { return m_dir; }

  private:
    std::filesystem::path m_dir;
    std::vector<OutputFile> m_files;
    std::vector<AtomicFile> m_staged;
};

// Whether two sets hold the same names, values and modes in the same order.
bool same_files(const std::vector<OutputFile>& a, const std::vector<OutputFile>& b);

// Removes the files `names` from `dir`, all or none: each is first moved
// aside (renamed), and only when every move worked are they unlinked; a
// failed move puts back the ones moved already and throws Error(Io). Names
// with nothing there are skipped; other files in `dir` are never touched.
// Returns how many were removed.
std::size_t remove_output_files(const std::filesystem::path& dir,
                                const std::vector<std::string>& names = output_file_names());

enum class OutputFormat { Text, Json, Env };
std::string render(const OutputValues& values, OutputFormat format, bool show_secrets);

}  // namespace xbranch
