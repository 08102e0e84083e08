#ifndef CSQLITE_SHIM_H
#define CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is `((sqlite3_destructor_type)-1)`, a cast macro Swift
/// cannot import: hand it over as a function. Binding with it makes SQLite
/// copy the bytes before the bind call returns, so Swift buffers may die.
static inline sqlite3_destructor_type CSQLite_transient(void) { return SQLITE_TRANSIENT; }

#endif
