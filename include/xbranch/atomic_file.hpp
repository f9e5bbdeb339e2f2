// One file written all-or-nothing: a temp file beside the target, fsynced,
// then renamed over it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

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
    // fsyncs and closes the temp file (once; commit() does it if not done).
    void flush();   // throws Error(Io)
    void commit();  // throws Error(Io)
    const std::filesystem::path& temp_path() const { return m_temp; }
    const std::filesystem::path& target() const { return m_target; }

  private:
    std::filesystem::path m_target;
    std::filesystem::path m_temp;
    int m_fd = -1;
    bool m_committed = false;
};

// fsync of a folder, so renames in it survive a crash. Throws Error(Io).
void fsync_dir(const std::filesystem::path& dir);

// "name.<tag>-XXXXXXXX": a fresh name beside `target` for temp and backup files.
std::filesystem::path sibling_name(const std::filesystem::path& target, const std::string& tag);

}  // namespace xbranch
