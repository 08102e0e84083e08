#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H
#include <jansson.h>

/// json_decref is a macro-backed inline in jansson.h; give Swift a real symbol.
static inline void CJansson_decref(json_t *json) { json_decref(json); }
static inline json_t *CJansson_incref(json_t *json) { return json_incref(json); }
static inline int CJansson_typeof(const json_t *json) { return (int)json_typeof(json); }

#endif
