#ifndef CEPOLL_SHIM_H
#define CEPOLL_SHIM_H
// epoll for the load generator's HTTP clients: Glibc's Swift module does not
// export <sys/epoll.h>. Linux only, as the generator is.
#include <sys/epoll.h>
#endif
