// The one builder of every JSON shape a branch has: the create/PATCH
// answer, a list item, the describe answer and the admin view.
#pragma once

#include <nlohmann/json.hpp>

#include "branch.hpp"

namespace emu {

enum class BranchShape {
    Created,    // POST and PATCH answers (short metadata)
    Listed,     // an item of GET /branches: no description, no status
    Described,  // GET /branches/{id}: status, configuration, description
    Admin,      // GET /_emulator/branches
};

// connection_string: a string or null, as the credentials shape decides
// (used by created and described).
nlohmann::json branch_json(const Branch& b, BranchShape shape, const StatusView& status,
                           const nlohmann::json& connection_string);

// Compact JSON text; invalid UTF-8 in a string is replaced, never thrown on.
std::string dump_json(const nlohmann::json& j);

}  // namespace emu
