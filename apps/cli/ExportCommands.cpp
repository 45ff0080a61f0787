// shrink export: the Deep Compression file (.shrinkz) of a saved model.
#include <memory>

#include <fmt/format.h>

#include "apps/cli/Common.h"
#include "compress/Export.h"
#include "compress/Strip.h"

namespace shrink::cli {

namespace {

struct ExportArgs {
  std::string in;
  std::string out;
  int indexBits = 0;
  int valueBits = 0;
  bool json = false;
};

void runExport(const ExportArgs& a) {
  LoadedModel m = loadModelFile(a.in);
  Sequential& model = asSequential(*m.model, a.in, "export");
  const int wrappers = stripPruningInPlace(model) + stripClusteringInPlace(model) + stripQuantizationInPlace(model) +
                       stripQuantNoiseInPlace(model);
  const ExportReport report =
      exportShrinkz(model, a.out, {.indexBits = a.indexBits, .valueBits = a.valueBits});
  if (a.json) {
    nlohmann::json j = toJson(report);
    j["in"] = a.in;
    j["out"] = a.out;
    j["stripped_wrappers"] = wrappers;
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("{} -> {} ({} compression wrappers stripped)\n{}", a.in, a.out, wrappers, formatExportReport(report));
}

}  // namespace

void registerExportCommands(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* e = app.add_subcommand(
      "export", "Write a model as a Deep Compression file (.shrinkz: sparse relative indices, codebooks, Huffman)");
  e->add_option("model", a->in, "Model file (wrappers are stripped first)")->required()->check(CLI::ExistingFile);
  e->add_option("out", a->out, "Output .shrinkz file")->required();
  e->add_option("--index-bits", a->indexBits,
                "Bits of a relative index, 1-16 (default: 8 for convolution kernels, 5 otherwise, as the paper's §2)")
      ->check(CLI::Range(1, 16));
  e->add_option("--value-bits", a->valueBits,
                "Codebook index bits, 1-8 (default: per tensor, the fewest that hold its distinct values)")
      ->check(CLI::Range(1, 8));
  e->add_flag("--json", a->json, "Print the size report as one JSON object");
  e->callback([a] { runExport(*a); });
}

}  // namespace shrink::cli
