#pragma once

/// Every layer, the Sequential container and the architecture registry.
#include "layers/Activations.h"
#include "layers/BatchNorm.h"
#include "layers/Config.h"
#include "layers/Conv2D.h"
#include "layers/Dense.h"
#include "layers/Dropout.h"
#include "layers/Flatten.h"
#include "layers/Pool2D.h"
#include "layers/Registry.h"
#include "layers/Sequential.h"
