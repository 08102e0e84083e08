#ifndef CLIBEV_SHIM_H
#define CLIBEV_SHIM_H
#include <ev.h>

/// libev's watcher set-up and loop calls are macros or take the loop as a
/// hidden argument; these wrappers give Swift plain functions.
typedef void (*CLibEV_ioCallback)(struct ev_loop *loop, ev_io *w, int revents);

static inline struct ev_loop *CLibEV_newLoop(void) { return ev_loop_new(EVFLAG_AUTO); }

static inline void CLibEV_ioInit(ev_io *w, CLibEV_ioCallback cb, int fd, int events, void *data) {
    ev_io_init(w, cb, fd, events);
    w->data = data;
}

/// Changes the events of a stopped watcher.
static inline void CLibEV_ioSet(ev_io *w, int fd, int events) { ev_io_set(w, fd, events); }

static inline int CLibEV_isActive(ev_io *w) { return ev_is_active(w); }

static inline void *CLibEV_data(ev_io *w) { return w->data; }

typedef void (*CLibEV_prepareCallback)(struct ev_loop *loop, ev_prepare *w, int revents);

/// A prepare watcher runs its callback each time the loop is about to wait
/// for events: after every callback of the current turn.
static inline void CLibEV_prepareStart(struct ev_loop *loop, ev_prepare *w, CLibEV_prepareCallback cb, void *data) {
    ev_prepare_init(w, cb);
    w->data = data;
    ev_prepare_start(loop, w);
}

static inline void CLibEV_prepareStop(struct ev_loop *loop, ev_prepare *w) { ev_prepare_stop(loop, w); }

static inline void *CLibEV_prepareData(ev_prepare *w) { return w->data; }

static const int CLibEV_READ = EV_READ;
static const int CLibEV_WRITE = EV_WRITE;
static const int CLibEV_BREAK_ALL = EVBREAK_ALL;
#endif
