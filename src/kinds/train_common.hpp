#pragma once
// Shared by the kinds that train a classifier (train, and later admm, crossbar_eval): the
// `data`, `model` and `train` schema sections and their translation into data/nn options.
// Defined in train.cpp.

#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/nn/training.hpp"

namespace xbarsweep::nn {
struct ModelOptions;
}

namespace xbarsweep::kinds {

/// data.name, data.dir, data.subset, data.test_subset, data.subset_mode, data.normalize,
/// data.pad, data.noise, data.seed
config::Schema data_schema();
/// model.name, model.hidden, model.layers, model.width
config::Schema model_schema();
/// train.lr, train.momentum, train.epochs, train.batch_size, train.optimizer, train.weight_decay
config::Schema train_schema();

/// Data set options from `data.*` (and model.name: VGG/ResNet get 32x32 images).
data::LoadOptions data_options(const config::Params& p);
/// Model options from `model.*` for \p dataset's shape; initialisation seeded from \p seed.
nn::ModelOptions model_options(const config::Params& p, const data::Dataset& dataset,
                               std::uint64_t seed);
/// Training options from `train.*`; shuffling seeded from \p seed.
nn::TrainOptions train_options(const config::Params& p, std::uint64_t seed);

/// Training items a point uses (data.subset, or the whole split), for cost hints.
std::int64_t training_items(const config::Params& p);

}  // namespace xbarsweep::kinds
