#ifndef CLIBWEBSOCKETS_SHIM_H
#define CLIBWEBSOCKETS_SHIM_H
#include <libwebsockets.h>

/// LWS_PRE is a macro; Swift needs it as a value.
static const size_t CLibWebSockets_PRE = LWS_PRE;
#endif
