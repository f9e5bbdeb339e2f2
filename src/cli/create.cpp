// xbranch create: create (or adopt) the sandbox's branch, wait, hand over the connection.
#include <spdlog/spdlog.h>

#include <future>
#include <iostream>

#include "app.hpp"
#include "create_flags.hpp"
#include "xbranch/error.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/tag.hpp"

namespace xbranch::cli {
namespace {

struct CreateOptions {
    CreateFlags create;
    OutputFlags out;
};

int run_create(const CreateOptions& o, const Context& ctx) {
    auto run = start_create_run(o.create, ctx, o.out.output_dir);
    // The output files are written and flushed (a disk flush each) while
    // the connection check logs in, and put in place only once it worked:
    // that costs the time after readiness one flush instead of ten. Not
    // with hooks (they fork while the files would be flushed; they are slow
    // anyway). Destroyed unused (a failed create), the staged files go.
    std::future<StagedOutputs> staging;
    if (o.out.output_dir && run->request.connect_check && run->request.hooks.empty()) {
        run->request.on_connection = [&staging, dir = *o.out.output_dir](const CreateResult& r) {
            try {
                staging = std::async(std::launch::async,
                                     [dir, files = output_files(output_values(r))]() mutable {
                                         return StagedOutputs(dir, std::move(files));
                                     });
            } catch (const std::exception& e) {
                // No thread: hand_over writes them afterwards, as without staging.
                spdlog::debug("could not stage the outputs early: {}", e.what());
            }
        };
    }
    const CreateResult result = run->create();
    hand_over(result, o.out, o.create.keep_on_failure, *run->lifecycle, *ctx.env, &staging);
    run->output_folders.keep();
    spdlog::info("branch {} (id {}) is ready after {} API requests{}", result.branch.name,
                 result.branch.id, run->session->client.request_count(),
                 result.adopted ? "; it already existed and was adopted" : "");
    std::cout << render(output_values(result), output_format(o.out), o.out.show_secrets)
              << std::flush;
    return 0;
}

}  // namespace

Command add_create(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<CreateOptions>();
    CLI::App* app = root.add_subcommand("create",
                                        "Create (or adopt) the sandbox's branch, wait until it is "
                                        "usable, hand over its connection");
    add_create_flags(*app, opts->create,
                     "Time limit for the whole create: every request, retry, the wait for "
                     "readiness and the connection check (90s, 10m, ...)");
    add_output_flags(*app, opts->out);
    app->footer(
        std::string(k_hooks_help) + "\n\n" +
        R"TXT(The branch name is derived from the sandbox: PREFIX + sandbox [+ resource] [+ sandbox id]
+ a hash of all three, at most 63 characters; the same sandbox always gets the same
name, so running create again adopts the branch instead of making a second one.

Examples:
  xbranch create --sandbox my-feature
  xbranch create --sandbox my-feature --parent staging --timeout 2m --output json
  xbranch create --sandbox my-feature --ttl 7d   # `xbranch gc --expired` removes it after
  eval "$(xbranch create --sandbox my-feature --output env --show-secrets)"
  # in a Signadot plugin step (the operator sets SIGNADOT_SANDBOX_NAME/ID):
  xbranch create --output-dir /outputs
  xbranch create --sandbox my-feature --database app --sql schema.sql --sql seed.sql)TXT");
    return {app, [opts, &ctx] { return run_create(*opts, ctx); }};
}

}  // namespace xbranch::cli
