#include "xbranch/run_end.hpp"

namespace xbranch {

int run_exit_status(int command_status, const std::optional<Error>& left_by) {
    if (command_status != 0 || !left_by) {
        return command_status;
    }
    const int code = exit_code(left_by->kind(), left_by->signal_number());
    return code != 0 ? code : exit_code(ErrorKind::Internal);
}

}  // namespace xbranch
