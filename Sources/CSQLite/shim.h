#ifndef CSQLITE_SHIM_H
#define CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is `((sqlite3_destructor_type)-1)`, a cast macro Swift
/// cannot import: hand it over as a function. Binding with it makes SQLite
/// copy the bytes before the bind call returns, so Swift buffers may die.
static inline sqlite3_destructor_type CSQLite_transient(void) { return SQLITE_TRANSIENT; }

/// `sqlite3_db_config` is variadic, which Swift cannot call: turns off the
/// checkpoint SQLite runs when the last connection closes, so a read-only
/// inspection leaves a damaged WAL exactly as it found it.
static inline int CSQLite_noCheckpointOnClose(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}

#endif
