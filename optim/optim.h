#pragma once

/// Umbrella header of the optim library: optimizers, clipping, schedules and the training loop.
#include "optim/Adam.h"
#include "optim/Callbacks.h"
#include "optim/Clip.h"
#include "optim/Fit.h"
#include "optim/LrSchedule.h"
#include "optim/ModelFile.h"
#include "optim/Objective.h"
#include "optim/Optimizer.h"
#include "optim/SGD.h"
