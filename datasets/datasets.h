#pragma once

/// Everything in shrink::data: datasets, loaders, splits and file readers.
#include "datasets/Csv.h"
#include "datasets/Dataset.h"
#include "datasets/Friedman.h"
#include "datasets/Idx.h"
#include "datasets/Loader.h"
#include "datasets/Mnist.h"
#include "datasets/Split.h"
