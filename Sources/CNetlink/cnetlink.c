#define _GNU_SOURCE
#include "CNetlink.h"
