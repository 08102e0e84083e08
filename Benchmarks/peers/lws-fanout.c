/*
 * lws-fanout: the near-limit reference for Switchboard's fan-out benchmark.
 *
 * A minimal libwebsockets server, single service thread like the hub:
 *   POST /pub/<channel>      body = message; answered 200 after it is queued
 *                            to every subscriber of <channel>
 *   GET  /sub/<channel>      WebSocket upgrade; receives every message
 *                            published to <channel> (text frames)
 *   WS message to /sub/<ch>  also published to <ch> (WS publish)
 *
 * Messages are encoded once into a reference-counted buffer with LWS_PRE
 * headroom; each subscriber holds a queue of references and writes one
 * frame per WRITEABLE callback (the standard lws pattern, the same shape as
 * Switchboard's transport today).  With -b N a writable subscriber instead
 * pre-frames up to N queued messages into one buffer and hands them to one
 * lws_write(LWS_WRITE_RAW) -> one send() (the "batching" lever of DESIGN.md).
 *
 * Build: cc -O2 -o lws-fanout lws-fanout.c $(pkg-config --cflags --libs libwebsockets)
 * Run:   lws-fanout -p PORT [-b N]
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#define NBUCKETS 65536
#define MAXQ 4096 /* per-subscriber queue cap: beyond it the oldest is dropped */

struct msg {
	int refs;
	size_t len;
	unsigned char buf[]; /* LWS_PRE + len */
};

struct sub;
struct channel {
	struct channel *next;
	struct sub *subs;
	char name[];
};

struct sub {
	struct sub *next, *prev;
	struct channel *ch;
	struct lws *wsi;
	struct msg **q; /* ring */
	unsigned cap, head, count;
};

struct pss { /* per-session data: HTTP publish or WS subscriber */
	int is_ws;
	struct sub sub;
	char chan[130];
	unsigned char *body;
	size_t blen, bcap;
	int responded;
	unsigned char *rx; size_t rxlen, rxcap; /* WS publish reassembly */
};

static struct channel *buckets[NBUCKETS];
static int interrupted;
static int batch = 1;
static unsigned char *scratch; static size_t scratch_cap;

static unsigned hash(const char *s) {
	unsigned h = 2166136261u;
	while (*s) { h ^= (unsigned char)*s++; h *= 16777619u; }
	return h & (NBUCKETS - 1);
}

static struct channel *channel_get(const char *name, int create) {
	unsigned h = hash(name);
	struct channel *c;
	for (c = buckets[h]; c; c = c->next)
		if (!strcmp(c->name, name)) return c;
	if (!create) return NULL;
	c = calloc(1, sizeof(*c) + strlen(name) + 1);
	strcpy(c->name, name);
	c->next = buckets[h];
	buckets[h] = c;
	return c;
}

static void msg_unref(struct msg *m) { if (--m->refs == 0) free(m); }

static void sub_push(struct sub *s, struct msg *m) {
	if (s->count == s->cap) {
		if (s->cap >= MAXQ) { /* conflate: drop the oldest */
			msg_unref(s->q[s->head]);
			s->head = (s->head + 1) % s->cap;
			s->count--;
		} else {
			unsigned ncap = s->cap ? s->cap * 2 : 8, i;
			struct msg **nq = malloc(ncap * sizeof(*nq));
			for (i = 0; i < s->count; i++) nq[i] = s->q[(s->head + i) % s->cap];
			free(s->q);
			s->q = nq; s->cap = ncap; s->head = 0;
		}
	}
	m->refs++;
	s->q[(s->head + s->count) % s->cap] = m;
	s->count++;
}

static void publish(const char *chan, const unsigned char *data, size_t len) {
	struct channel *c = channel_get(chan, 0);
	struct sub *s;
	struct msg *m;
	if (!c || !c->subs) return;
	m = malloc(sizeof(*m) + LWS_PRE + len);
	m->refs = 1;
	m->len = len;
	memcpy(m->buf + LWS_PRE, data, len);
	for (s = c->subs; s; s = s->next) {
		sub_push(s, m);
		lws_callback_on_writable(s->wsi);
	}
	msg_unref(m);
}

static int chan_from_uri(struct lws *wsi, const char *prefix, char *out, size_t outlen) {
	char uri[256];
	size_t pl = strlen(prefix);
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 &&
	    lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_POST_URI) <= 0)
		return -1;
	if (strncmp(uri, prefix, pl) || !uri[pl] || strlen(uri + pl) >= outlen) return -1;
	strcpy(out, uri + pl);
	return 0;
}

/* One writable callback: one frame, or (-b N) up to N frames in one send(). */
static int sub_write(struct sub *s) {
	if (!s->count) return 0;
	if (batch <= 1 || s->count == 1) {
		struct msg *m = s->q[s->head];
		if (lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len) return -1;
		msg_unref(m);
		s->head = (s->head + 1) % s->cap;
		s->count--;
	} else {
		unsigned n = s->count < (unsigned)batch ? s->count : (unsigned)batch, i;
		size_t need = LWS_PRE, off = LWS_PRE;
		for (i = 0; i < n; i++) need += s->q[(s->head + i) % s->cap]->len + 10;
		if (need > scratch_cap) { free(scratch); scratch_cap = need * 2; scratch = malloc(scratch_cap); }
		for (i = 0; i < n; i++) { /* server frames are unmasked: header + payload */
			struct msg *m = s->q[(s->head + i) % s->cap];
			scratch[off++] = 0x81;
			if (m->len < 126) scratch[off++] = (unsigned char)m->len;
			else if (m->len < 65536) { scratch[off++] = 126; scratch[off++] = (unsigned char)(m->len >> 8); scratch[off++] = (unsigned char)m->len; }
			else { int k; scratch[off++] = 127; for (k = 7; k >= 0; k--) scratch[off++] = (unsigned char)((uint64_t)m->len >> (8 * k)); }
			memcpy(scratch + off, m->buf + LWS_PRE, m->len);
			off += m->len;
			msg_unref(m);
		}
		s->head = (s->head + n) % s->cap;
		s->count -= n;
		if (lws_write(s->wsi, scratch + LWS_PRE, off - LWS_PRE, LWS_WRITE_RAW) < (int)(off - LWS_PRE)) return -1;
	}
	if (s->count) lws_callback_on_writable(s->wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
	struct pss *pss = user;
	unsigned char hdr[LWS_PRE + 256], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
	if (!pss) /* a connection closed before it had per-session data */
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (chan_from_uri(wsi, "/pub/", pss->chan, sizeof(pss->chan))) {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
			return -1;
		}
		pss->blen = 0;
		pss->responded = 0;
		if (!lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) {
			lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
		if (pss->blen + len > pss->bcap) {
			pss->bcap = (pss->blen + len) * 2;
			pss->body = realloc(pss->body, pss->bcap);
		}
		memcpy(pss->body + pss->blen, in, len);
		pss->blen += len;
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		publish(pss->chan, pss->body, pss->blen);
		pss->responded = 1;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!pss->responded) return 0;
		pss->responded = 0;
		if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/plain", 2, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		memcpy(start, "ok", 2);
		if (lws_write(wsi, start, 2, LWS_WRITE_HTTP_FINAL) != 2) return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		free(pss->body); pss->body = NULL; pss->bcap = 0;
		return 0;
	case LWS_CALLBACK_ESTABLISHED: {
		struct channel *c;
		if (chan_from_uri(wsi, "/sub/", pss->chan, sizeof(pss->chan))) return -1;
		pss->is_ws = 1;
		c = channel_get(pss->chan, 1);
		memset(&pss->sub, 0, sizeof(pss->sub));
		pss->sub.ch = c;
		pss->sub.wsi = wsi;
		pss->sub.next = c->subs;
		if (c->subs) c->subs->prev = &pss->sub;
		c->subs = &pss->sub;
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return sub_write(&pss->sub);
	case LWS_CALLBACK_RECEIVE:
		if (pss->rxlen + len > pss->rxcap) { pss->rxcap = (pss->rxlen + len) * 2; pss->rx = realloc(pss->rx, pss->rxcap); }
		memcpy(pss->rx + pss->rxlen, in, len);
		pss->rxlen += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			publish(pss->chan, pss->rx, pss->rxlen);
			pss->rxlen = 0;
		}
		return 0;
	case LWS_CALLBACK_CLOSED: {
		struct sub *s = &pss->sub;
		if (!pss->is_ws) return 0;
		if (s->prev) s->prev->next = s->next; else s->ch->subs = s->next;
		if (s->next) s->next->prev = s->prev;
		while (s->count) { msg_unref(s->q[s->head]); s->head = (s->head + 1) % s->cap; s->count--; }
		free(s->q); s->q = NULL;
		free(pss->rx); pss->rx = NULL;
		pss->is_ws = 0;
		return 0;
	}
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[] = {
	{ "fanout", callback, sizeof(struct pss), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void sigint_handler(int sig) { (void)sig; interrupted = 1; }

int main(int argc, char **argv) {
	struct lws_context_creation_info info;
	struct lws_context *context;
	int port = 7681, opt;
	while ((opt = getopt(argc, argv, "p:b:")) != -1) {
		if (opt == 'p') port = atoi(optarg);
		else if (opt == 'b') batch = atoi(optarg);
	}
	signal(SIGINT, sigint_handler);
	signal(SIGTERM, sigint_handler);
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.alpn = "http/1.1";
	context = lws_create_context(&info);
	if (!context) { fprintf(stderr, "lws init failed\n"); return 1; }
	printf("listening on http://127.0.0.1:%d\n", port);
	fflush(stdout);
	while (!interrupted)
		if (lws_service(context, 0) < 0) break;
	lws_context_destroy(context);
	return 0;
}
