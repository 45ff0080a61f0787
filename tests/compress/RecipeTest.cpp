#include "compress/Recipe.h"

#include <gtest/gtest.h>

namespace shrink {
namespace {

nlohmann::json stages(nlohmann::json list) { return {{"stages", std::move(list)}}; }

/// The message of the std::invalid_argument `f` throws ("" when it throws none).
template <typename F>
std::string errorOf(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(RecipeTest, ParsesOptionsAndKeepsDefaults) {
  const Recipe r = parseRecipe(stages({{{"train", {{"epochs", 3}, {"lr", 0.01}}}},
                                       {{"prune", {{"schedule", "constant"}, {"final_sparsity", 0.6}}}},
                                       {{"cluster", {{"clusters", 8}, {"preserve_sparsity", true}}}},
                                       {{"qat", {{"bits", 4}, {"preserve_clusters", true}}}},
                                       {{"export", {{"out", "m.shrink"}}}}}),
                               "r.json");
  ASSERT_EQ(r.stages.size(), 5u);
  EXPECT_EQ(r.source, "r.json");
  EXPECT_EQ(r.stages[0].kind, StageKind::Train);
  EXPECT_EQ(r.stages[0].epochs, 3);
  EXPECT_DOUBLE_EQ(r.stages[0].lr, 0.01);
  EXPECT_EQ(r.stages[0].batchSize, 32);
  EXPECT_EQ(r.stages[1].schedule, "constant");
  EXPECT_DOUBLE_EQ(r.stages[1].finalSparsity, 0.6);
  EXPECT_EQ(r.stages[1].frequency, 100);
  EXPECT_EQ(r.stages[2].clusters, 8);
  EXPECT_TRUE(r.stages[2].preserveSparsity);
  EXPECT_EQ(r.stages[3].bits, 4);
  EXPECT_TRUE(r.stages[3].preserveClusters);
  EXPECT_FALSE(r.stages[3].preserveSparsity);
  EXPECT_EQ(r.stages[4].out, "m.shrink");
  EXPECT_EQ(r.stages[4].index, 4);
  EXPECT_EQ(stageLabel(r.stages[2]), "stage 2 (cluster)");
  EXPECT_NO_THROW(checkRecipeOrder(r, false));
}

TEST(RecipeTest, RejectsOptionsOfAnotherStage) {
  // "bits" belongs to qat, "out" to export: each stage accepts only its own.
  EXPECT_NE(errorOf([] { parseRecipe(stages({{{"train", {{"bits", 8}}}}}), "r.json"); })
                .find("stage 0 (train): unknown option 'bits'"),
            std::string::npos);
  EXPECT_NE(errorOf([] { parseRecipe(stages({{{"prune", {{"out", "m"}}}}}), "r.json"); })
                .find("stage 0 (prune): unknown option 'out'"),
            std::string::npos);
  EXPECT_NE(errorOf([] { parseRecipe(stages({{{"qat", {{"preserve_sparsity", 1}}}}}), "r.json"); })
                .find("preserve_sparsity: must be true or false"),
            std::string::npos);
  EXPECT_NE(errorOf([] { parseRecipe(stages({{{"prune", {{"begin_step", -1}}}}}), "r.json"); }), "");
}

TEST(RecipeTest, QatFirstNeedsATrainedModel) {
  const Recipe r = parseRecipe(stages({{{"qat", nlohmann::json::object()}}}), "r.json");
  EXPECT_NE(errorOf([&] { checkRecipeOrder(r, false); }).find("needs trained weights"), std::string::npos);
  EXPECT_NO_THROW(checkRecipeOrder(r, true));
  // a prune stage trains the model, so qat may follow it
  const Recipe afterPrune = parseRecipe(stages({{{"prune", nlohmann::json::object()}}, {{"qat", nlohmann::json::object()}}}), "r.json");
  EXPECT_NO_THROW(checkRecipeOrder(afterPrune, false));
  const Recipe twoQat = parseRecipe(stages({{{"qat", nlohmann::json::object()}}, {{"qat", nlohmann::json::object()}}}), "r.json");
  EXPECT_NE(errorOf([&] { checkRecipeOrder(twoQat, true); }).find("stage 1 (qat): the model is already quantized"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
