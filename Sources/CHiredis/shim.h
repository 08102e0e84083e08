#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

/// `redisCommand` is variadic, which Swift cannot call; the Swift side uses
/// `redisCommandArgv` only. `redisReply.element` is `redisReply **`, which
/// imports fine; nothing else needs wrapping.

#endif
