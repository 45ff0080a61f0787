#pragma once

// Everything of the compression library: schedules, masks, the pruning wrapper and its callbacks,
// fake quantization and the quantization wrappers, strip, cost reports and scalar logs.
#include "compress/EventWriter.h"
#include "compress/FakeQuant.h"
#include "compress/Masks.h"
#include "compress/Prune.h"
#include "compress/PruneLowMagnitude.h"
#include "compress/PruningCallbacks.h"
#include "compress/QuantNoise.h"
#include "compress/Quantize.h"
#include "compress/QuantizeWrapper.h"
#include "compress/Report.h"
#include "compress/ScalarLog.h"
#include "compress/Schedule.h"
#include "compress/Strip.h"
