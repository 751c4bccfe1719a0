#include "CNetSys.h"
