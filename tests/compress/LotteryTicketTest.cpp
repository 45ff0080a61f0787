// The lottery-ticket search: per-round sparsity, nested masks, rewinding to the initial values.
#include <cmath>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compress.h"
#include "core/Threads.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

using test::messageOf;

std::unique_ptr<Sequential> mlp() {
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = 10, .out = 40, .activation = Activation::ReLU, .seed = 1});
  m->add<Dense>({.in = 40, .out = 20, .activation = Activation::ReLU, .seed = 2});
  m->add<Dense>({.in = 20, .out = 1, .seed = 3});
  return m;
}

TEST(LotteryTicketTest, RoundsPruneNestedMasksAndRewindSurvivorsToTheirInitialValues) {
  setNumThreads(1);
  auto data = data::makeFriedman1({.nSamples = 256, .seed = 5});
  auto model = mlp();
  std::vector<Tensor> initial;
  for (Parameter* p : model->parameters()) initial.push_back(p->leaf().value());

  std::vector<std::vector<Tensor>> masksPerRound;
  int calls = 0;
  auto train = [&](Sequential& m, const std::vector<Callback*>& callbacks) {
    // Before each training the model holds the initial values, masked.
    const auto params = m.parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor& now = params[i]->leaf().value();
      for (int64_t k = 0; k < now.numel(); ++k)
        if (now[k] != 0.0f) {
          EXPECT_EQ(now[k], initial[i][k]) << "round " << calls << ", parameter " << i;
        }
    }
    std::vector<Tensor> masks;
    for (const auto& [name, w] : pruneWrappers(m)) masks.push_back(*w->prunedWeights()[0].mask);
    masksPerRound.push_back(masks);
    ++calls;
    Adam adam(m.trainableParameters(), {.lr = 0.01f});
    fit(m, adam, Objective::regression(), data, {.epochs = 2, .batchSize = 32, .verbose = 0}, callbacks);
    return evaluate(m, Objective::regression(), data);
  };
  const auto rounds = lotteryTicket(*model, train, {.rounds = 3, .rate = 0.5});

  ASSERT_EQ(rounds.size(), 4u);
  ASSERT_EQ(calls, 4);
  const std::vector<int64_t> sizes = {400, 800, 20};
  for (int r = 0; r <= 3; ++r) {
    EXPECT_EQ(rounds[r].round, r);
    EXPECT_TRUE(rounds[r].logs.count("loss")) << "the trainer's logs are kept";
    ASSERT_EQ(rounds[r].layerSparsity.size(), 3u);
    for (size_t l = 0; l < 3; ++l) {
      const double rate = l == 2 ? 0.25 : 0.5;  // the output layer at half the rate
      const double target = 1 - std::pow(1 - rate, r);
      const double expected = 1 - double(keptCount(sizes[l], target)) / double(sizes[l]);
      EXPECT_DOUBLE_EQ(rounds[r].layerSparsity[l], expected) << "round " << r << ", layer " << l;
    }
  }
  EXPECT_NEAR(rounds[3].layerSparsity[0], 0.875, 1e-12);
  // Masks only grow: a weight pruned in one round is pruned in every later one.
  for (size_t r = 1; r < masksPerRound.size(); ++r)
    for (size_t l = 0; l < 3; ++l)
      for (int64_t k = 0; k < masksPerRound[r][l].numel(); ++k)
        if (masksPerRound[r - 1][l][k] == 0.0f) {
          ASSERT_EQ(masksPerRound[r][l][k], 0.0f) << "round " << r;
        }
  // The winning ticket strips to a plain model with the last round's zeros.
  auto ticket = stripPruning(*model);
  EXPECT_EQ(report(*ticket, {.sizes = false}).prunableNonZero,
            keptCount(400, 0.875) + keptCount(800, 0.875) + keptCount(20, 1 - std::pow(0.75, 3)));
}

TEST(LotteryTicketTest, BadOptionsAreRejected) {
  auto model = mlp();
  auto train = [](Sequential&, const std::vector<Callback*>&) { return Logs{}; };
  EXPECT_EQ(messageOf([&] { lotteryTicket(*model, train, {.rounds = 0}); }),
            "lotteryTicket: rounds must be >= 1, got 0");
  EXPECT_EQ(messageOf([&] { lotteryTicket(*model, train, {.rate = 1.0}); }),
            "lotteryTicket: rate must be in (0, 1), got 1");
  EXPECT_EQ(messageOf([&] { lotteryTicket(*model, train, {.outputRate = -0.5}); }),
            "lotteryTicket: outputRate must be in [0, 1), got -0.5");
  EXPECT_EQ(messageOf([&] { lotteryTicket(*model, nullptr); }), "lotteryTicket: a trainer is required");
}

}  // namespace
}  // namespace shrink
