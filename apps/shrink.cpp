// The shrink command: train, compress and inspect models.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/cli/Common.h"
#include "core/Threads.h"

int main(int argc, char** argv) {
  shrink::preferPassiveOpenMpWaits(argv);
  CLI::App app{"shrink: train and compress neural networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "shrink 0.1.0");
  shrink::cli::registerTrainCommands(app);
  shrink::cli::registerPruneCommands(app);
  shrink::cli::registerQuantizeCommands(app);
  shrink::cli::registerExportCommands(app);
  shrink::cli::registerCompressCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "shrink: error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "shrink: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
