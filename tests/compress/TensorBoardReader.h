#pragma once

// Reads TensorBoard event files back with TensorBoard's own EventAccumulator, in the project's
// Python venv (created, and tensorboard pip-installed, when missing).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace shrink::test {

/// The venv python with TensorBoard installed, or "" with `why` set when that is impossible here.
inline std::string tensorboardPython(std::string& why) {
  namespace fs = std::filesystem;
  const char* home = std::getenv("HOME");
  const fs::path venv = fs::path(home ? home : "/root") / ".cache" / "shrink-venv";
  const std::string py = (venv / "bin" / "python").string();
  const fs::path logDir = fs::temp_directory_path() / "shrink_tensorboard_reader";
  fs::create_directories(logDir);
  const std::string log = (logDir / "pip.log").string();
  if (!fs::exists(py) && std::system(("python3 -m venv '" + venv.string() + "' > '" + log + "' 2>&1").c_str()) != 0) {
    why = "cannot create a Python venv at " + venv.string() + " (see " + log + ")";
    return "";
  }
  const std::string probe = "'" + py + "' -c 'import tensorboard' > /dev/null 2>&1";
  if (std::system(probe.c_str()) == 0) return py;
  if (std::system(("'" + py + "' -m pip install -q tensorboard > '" + log + "' 2>&1").c_str()) != 0 ||
      std::system(probe.c_str()) != 0) {
    why = "cannot pip install tensorboard into " + venv.string() + " (see " + log + ")";
    return "";
  }
  return py;
}

/// What EventAccumulator reads from the event files in `dir`:
/// {"file_version": ..., "tags": [sorted scalar tags], "scalars": {tag: [[step, value], ...]}}.
/// Sets `error` (and returns null) when the reader fails.
inline nlohmann::json readTensorBoardScalars(const std::string& python, const std::string& dir, std::string& error) {
  namespace fs = std::filesystem;
  const fs::path work = fs::temp_directory_path() / "shrink_tensorboard_reader";
  fs::create_directories(work);
  const fs::path script = work / "read_events.py";
  std::ofstream(script) << "import json, sys\n"
                           "from tensorboard.backend.event_processing import event_accumulator as ea\n"
                           "acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})\n"
                           "acc.Reload()\n"
                           "tags = sorted(acc.Tags()['scalars'])\n"
                           "print(json.dumps({'file_version': acc.file_version, 'tags': tags,\n"
                           "  'scalars': {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags}}))\n";
  const fs::path err = work / "read_events.err";
  const std::string cmd = "'" + python + "' '" + script.string() + "' '" + dir + "' 2> '" + err.string() + "'";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    error = "cannot run " + python;
    return nullptr;
  }
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  if (pclose(p) != 0) {
    std::ifstream in(err);
    std::stringstream ss;
    ss << in.rdbuf();
    error = "the reader failed:\n" + ss.str();
    return nullptr;
  }
  return nlohmann::json::parse(out);
}

}  // namespace shrink::test
