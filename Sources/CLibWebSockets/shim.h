#ifndef CLIBWEBSOCKETS_SHIM_H
#define CLIBWEBSOCKETS_SHIM_H
#include <libwebsockets.h>

/// Bytes libwebsockets needs before every payload handed to lws_write().
static const size_t CLibWebSockets_PRE = LWS_PRE;

/// Option bits are composite macros Swift cannot import.
static inline uint64_t CLibWebSockets_serverOptions(int disableIPv6, int libev) {
    uint64_t options = LWS_SERVER_OPTION_VALIDATE_UTF8
        | LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    if (disableIPv6)
        options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (libev)
        options |= LWS_SERVER_OPTION_LIBEV;
    return options;
}

/// lws_sorted_usec_list_t carries no user pointer; timers embed it first in
/// this struct and recover the owner from the sul pointer (container-of).
typedef struct CLibWebSockets_timer {
    lws_sorted_usec_list_t sul;
    void *owner;
} CLibWebSockets_timer;

static inline void *CLibWebSockets_timerOwner(lws_sorted_usec_list_t *sul) {
    return ((CLibWebSockets_timer *)sul)->owner;
}
/// Context options for a client-only context: global TLS init only when a
/// wss:// connection needs it; libev (epoll) for a client holding thousands of
/// connections (the benchmark generator).
static inline uint64_t CLibWebSockets_clientOptions(int useTLS, int libev) {
    uint64_t options = useTLS ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    if (libev)
        options |= LWS_SERVER_OPTION_LIBEV;
    return options;
}

/// CONTEXT_PORT_NO_LISTEN_SERVER: a server vhost that serves adopted sockets only.
static inline int CLibWebSockets_noListenServerPort(void) { return CONTEXT_PORT_NO_LISTEN_SERVER; }

/// CONTEXT_PORT_NO_LISTEN: a context that only makes client connections.
static inline int CLibWebSockets_noListenPort(void) { return CONTEXT_PORT_NO_LISTEN; }

/// LCCSCF_USE_SSL for lws_client_connect_info.ssl_connection.
static inline int CLibWebSockets_clientUseSSL(void) { return LCCSCF_USE_SSL; }
#endif
