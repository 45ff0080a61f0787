#pragma once

// Everything of the compression library: schedules, masks, the pruning wrapper and its callbacks,
// strip, structured pruning and physical removal, the lottery ticket, fake quantization and the
// quantization wrappers, post-training calibration, integer inference, weight clustering,
// collaborative optimisation, cost reports and scalar logs.
#include "compress/Calibrate.h"
#include "compress/ChannelScores.h"
#include "compress/Cluster.h"
#include "compress/Collaborative.h"
#include "compress/EventWriter.h"
#include "compress/Export.h"
#include "compress/FakeQuant.h"
#include "compress/Int8.h"
#include "compress/LotteryTicket.h"
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
#include "compress/Shrink.h"
#include "compress/Strip.h"
#include "compress/Summaries.h"
#include "compress/StructuredPruning.h"
