/*
 * an_native: packet I/O for the Access Node (plain N-API + libuv).
 *
 * Three kinds of endpoint share one JS class (`Endpoint`):
 *   - AF_PACKET socket bound to the access interface, classic-BPF filtered to IPv6
 *     frames, outgoing frames ignored, optional promiscuous membership;
 *   - raw IPv4 socket for one protocol (41 or 47) with IP_HDRINCL: the caller writes
 *     the whole IPv4 packet (source address included); receive gives whole packets;
 *   - TUN (or TAP) device, used by test peers.
 *
 * Receive: the JS side owns one ArrayBuffer of N slots of `slotSize` bytes plus an
 * Int32Array of N lengths (and optionally N*META_STRIDE ints of metadata). A uv_poll_t
 * readable callback fills up to N packets with one recvmmsg() and calls the JS callback
 * with the count; no JS allocation per packet. Send: one packet, or a batch from the
 * same slot layout with one sendmmsg().
 *
 * Errors are JS Errors with .code (errno name), .errno (negative), .syscall.
 */
#include <node_api.h>
#include <uv.h>

#include "an_fastpath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
/* linux/icmp.h clashes with net/if.h (struct ifconf): its two raw-socket definitions here. */
#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif
struct an_icmp_filter { uint32_t data; };
#ifndef SKF_AD_VLAN_TAG_PRESENT
#define SKF_AD_VLAN_TAG_PRESENT 48
#endif

#define META_STRIDE 4          /* ifindex, pkttype, vlan tci or -1, ethertype */
#define MAX_ROUNDS 8           /* recvmmsg rounds per readable wakeup (fairness) */
#define MAX_SLOTS 4096
#define CTRL_SIZE CMSG_SPACE(sizeof(struct tpacket_auxdata))
#define BPF_ACCEPT 0x40000u

enum kind { KIND_PACKET = 1, KIND_RAW4 = 2, KIND_TUN = 3 };

typedef union {
  struct sockaddr_ll ll;
  struct sockaddr_in in;
} sockname_t;

typedef struct endpoint {
  napi_env env;
  enum kind kind;
  int fd;
  int ifindex;
  char name[IFNAMSIZ];
  int unrefed;

  uv_poll_t poll;
  int poll_init, poll_closing, poll_closed;
  int finalized;

  /* receive state, valid while rx_active */
  int polling;      /* uv_poll_start active */
  int rx_active;    /* references held */
  int in_callback;
  napi_ref self_ref, rx_buf_ref, rx_len_ref, rx_meta_ref, rx_cb_ref, rx_err_ref;
  napi_async_context rx_async;
  uint8_t *rx_base;
  size_t rx_slot;
  uint32_t rx_slots;
  int32_t *rx_len;
  int32_t *rx_meta;
  struct mmsghdr *rx_msgs;
  struct iovec *rx_iov;
  sockname_t *rx_names;
  uint8_t *rx_ctrl;

  /* send scratch */
  struct mmsghdr *tx_msgs;
  struct iovec *tx_iov;
  sockname_t *tx_names;
  uint32_t tx_cap;

  /* counters */
  double rx_packets, rx_batches, rx_truncated, rx_outgoing, tx_packets, tx_errors, tx_would_block;
  double k_packets, k_drops;
  int last_tx_errno;
} endpoint_t;

typedef struct {
  napi_ref ctor;
} addon_t;

static int ctor_token; /* address used as the "native construction" marker */

/* ---------------------------------------------------------------- errors */

static const char *errno_name(int e) {
  switch (e) {
#define N(x) case x: return #x;
    N(EPERM) N(ENOENT) N(ESRCH) N(EINTR) N(EIO) N(ENXIO) N(E2BIG) N(EBADF) N(EAGAIN)
    N(ENOMEM) N(EACCES) N(EFAULT) N(EBUSY) N(EEXIST) N(ENODEV) N(ENOTDIR) N(EINVAL)
    N(ENFILE) N(EMFILE) N(ENOTTY) N(ENOSPC) N(EPIPE) N(ERANGE) N(ENOSYS) N(ENOPROTOOPT)
    N(EPROTONOSUPPORT) N(ESOCKTNOSUPPORT) N(EOPNOTSUPP) N(EAFNOSUPPORT) N(EADDRINUSE)
    N(EADDRNOTAVAIL) N(ENETDOWN) N(ENETUNREACH) N(ENETRESET) N(ECONNABORTED)
    N(ECONNRESET) N(ENOBUFS) N(EISCONN) N(ENOTCONN) N(ETIMEDOUT) N(ECONNREFUSED)
    N(EHOSTDOWN) N(EHOSTUNREACH) N(EMSGSIZE) N(ENOTSOCK) N(EDESTADDRREQ) N(EPROTOTYPE)
    N(EBADFD) N(ENAMETOOLONG)
#undef N
    default: return "EUNKNOWN";
  }
}

static napi_value errno_error(napi_env env, int err, const char *syscall, const char *detail) {
  char msg[320];
  const char *code = errno_name(err);
  snprintf(msg, sizeof msg, "%s failed: %s (%s)%s%s", syscall, code, strerror(err),
           detail && *detail ? ": " : "", detail ? detail : "");
  napi_value jcode, jmsg, error, v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_error(env, jcode, jmsg, &error);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  return error;
}

napi_value an_errno_error(napi_env env, int err, const char *syscall, const char *detail) {
  return errno_error(env, err, syscall, detail);
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  napi_throw(env, errno_error(env, err, syscall, detail));
  return NULL;
}

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

#define CHECK(call)                                                              \
  do {                                                                           \
    if ((call) != napi_ok) {                                                     \
      bool pending_;                                                             \
      napi_is_exception_pending(env, &pending_);                                 \
      if (!pending_) napi_throw_error(env, "ERR_NAPI", "N-API call failed: " #call); \
      return NULL;                                                               \
    }                                                                            \
  } while (0)

/* ------------------------------------------------------------- arguments */

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

static bool get_string(napi_env env, napi_value v, char *buf, size_t size) {
  napi_valuetype t;
  size_t len;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok || t != napi_string) return false;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= size) return false;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok;
}

static bool get_u32(napi_env env, napi_value v, uint32_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return false;
  napi_get_value_double(env, v, &d);
  if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) return false;
  *out = (uint32_t)d;
  return true;
}

static napi_value get_prop(napi_env env, napi_value obj, const char *key) {
  napi_value v = NULL;
  if (is_nullish(env, obj)) return NULL;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return NULL;
  return is_nullish(env, v) ? NULL : v;
}

static bool opt_bool(napi_env env, napi_value obj, const char *key, bool dflt) {
  napi_value v = get_prop(env, obj, key);
  bool b = dflt;
  if (v) napi_get_value_bool(env, v, &b);
  return b;
}

static uint32_t opt_u32(napi_env env, napi_value obj, const char *key, uint32_t dflt) {
  napi_value v = get_prop(env, obj, key);
  uint32_t u = dflt;
  if (v && !get_u32(env, v, &u)) u = dflt;
  return u;
}

/* Bytes of an ArrayBuffer or any TypedArray/Buffer (offset applied). */
static bool get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (v == NULL) return false;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    void *p;
    if (napi_get_arraybuffer_info(env, v, &p, len) != napi_ok) return false;
    *data = p;
    return true;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t n;
    void *p;
    if (napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL) != napi_ok) return false;
    if (type != napi_uint8_array && type != napi_int8_array && type != napi_uint8_clamped_array)
      return false;
    *data = p;
    *len = n;
    return true;
  }
  return false;
}

static bool get_i32_array(napi_env env, napi_value v, int32_t **data, size_t *count) {
  bool is;
  napi_typedarray_type type;
  void *p;
  if (v == NULL || napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  if (napi_get_typedarray_info(env, v, &type, count, &p, NULL, NULL) != napi_ok) return false;
  if (type != napi_int32_array) return false;
  *data = p;
  return true;
}

/* ------------------------------------------------------------- lifecycle */

static void free_rx_arrays(endpoint_t *e) {
  free(e->rx_msgs);
  free(e->rx_iov);
  free(e->rx_names);
  free(e->rx_ctrl);
  e->rx_msgs = NULL;
  e->rx_iov = NULL;
  e->rx_names = NULL;
  e->rx_ctrl = NULL;
}

static void maybe_free(endpoint_t *e) {
  if (!e->finalized) return;
  if (e->poll_init && !e->poll_closed) return;
  free_rx_arrays(e);
  free(e->tx_msgs);
  free(e->tx_iov);
  free(e->tx_names);
  free(e);
}

static void on_poll_closed(uv_handle_t *h) {
  endpoint_t *e = h->data;
  e->poll_closed = 1;
  maybe_free(e);
}

static void del_ref(napi_env env, napi_ref *r) {
  if (*r) {
    napi_delete_reference(env, *r);
    *r = NULL;
  }
}

/* Drop the receive references (buffers, callbacks, self). Not while a JS callback
 * of this endpoint is on the stack: the poll callback does it on return. */
static void release_rx(endpoint_t *e) {
  napi_env env = e->env;
  if (!e->rx_active || e->in_callback) return;
  e->rx_active = 0;
  del_ref(env, &e->rx_buf_ref);
  del_ref(env, &e->rx_len_ref);
  del_ref(env, &e->rx_meta_ref);
  del_ref(env, &e->rx_cb_ref);
  del_ref(env, &e->rx_err_ref);
  del_ref(env, &e->self_ref);
  if (e->rx_async) {
    napi_async_destroy(env, e->rx_async);
    e->rx_async = NULL;
  }
  e->rx_base = NULL;
  e->rx_len = NULL;
  e->rx_meta = NULL;
}

static void stop_receive(endpoint_t *e) {
  if (e->polling) {
    uv_poll_stop(&e->poll);
    e->polling = 0;
  }
  release_rx(e);
}

/* uv_poll_stop + uv_close before close(fd): libuv removes the fd from epoll
 * synchronously in uv_close, the handle memory lives until on_poll_closed. */
static void endpoint_close(endpoint_t *e) {
  stop_receive(e);
  if (e->poll_init && !e->poll_closing) {
    e->poll_closing = 1;
    uv_close((uv_handle_t *)&e->poll, on_poll_closed);
  }
  if (e->fd >= 0) {
    close(e->fd);
    e->fd = -1;
  }
}

static void finalize_endpoint(napi_env env, void *data, void *hint) {
  endpoint_t *e = data;
  e->finalized = 1;
  e->in_callback = 0;
  endpoint_close(e);
  maybe_free(e);
}

/* ------------------------------------------------------------------ receive */

static void packet_meta(endpoint_t *e, uint32_t i, int32_t *m) {
  struct msghdr *h = &e->rx_msgs[i].msg_hdr;
  const struct sockaddr_ll *ll = &e->rx_names[i].ll;
  int32_t vlan = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
      struct tpacket_auxdata aux;
      memcpy(&aux, CMSG_DATA(c), sizeof aux);
      if (aux.tp_status & TP_STATUS_VLAN_VALID) vlan = aux.tp_vlan_tci;
    }
  }
  m[0] = ll->sll_ifindex;
  m[1] = ll->sll_pkttype;
  m[2] = vlan;
  m[3] = ntohs(ll->sll_protocol);
}

/* Fill slots. *got = packets taken from the kernel; returns packets delivered
 * (truncated / outgoing ones are dropped and counted), or -errno. */
static int do_receive(endpoint_t *e, uint32_t *got) {
  uint32_t n = e->rx_slots, j = 0;
  *got = 0;
  if (e->kind == KIND_TUN) {
    while (j < n) {
      ssize_t r = read(e->fd, e->rx_base + (size_t)j * e->rx_slot, e->rx_slot);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || j > 0) break;
        return -errno;
      }
      e->rx_len[j] = (int32_t)r;
      if (e->rx_meta) {
        int32_t *m = e->rx_meta + (size_t)j * META_STRIDE;
        m[0] = e->ifindex;
        m[1] = -1;
        m[2] = -1;
        m[3] = r > 0 ? ((e->rx_base[(size_t)j * e->rx_slot] >> 4) == 6 ? ETH_P_IPV6 : ETH_P_IP) : 0;
      }
      j++;
    }
    *got = j;
    return (int)j;
  }
  for (uint32_t i = 0; i < n; i++) {
    struct msghdr *h = &e->rx_msgs[i].msg_hdr;
    h->msg_namelen = sizeof(sockname_t);
    h->msg_controllen = e->rx_ctrl ? CTRL_SIZE : 0;
    h->msg_flags = 0;
  }
  int r;
  do {
    r = recvmmsg(e->fd, e->rx_msgs, n, MSG_DONTWAIT | MSG_TRUNC, NULL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  *got = (uint32_t)r;
  for (uint32_t i = 0; i < (uint32_t)r; i++) {
    struct mmsghdr *mm = &e->rx_msgs[i];
    if ((mm->msg_hdr.msg_flags & MSG_TRUNC) || mm->msg_len > e->rx_slot) {
      e->rx_truncated++;
      continue;
    }
    if (e->kind == KIND_PACKET && e->rx_names[i].ll.sll_pkttype == PACKET_OUTGOING) {
      e->rx_outgoing++;
      continue;
    }
    if (j != i)
      memmove(e->rx_base + (size_t)j * e->rx_slot, e->rx_base + (size_t)i * e->rx_slot, mm->msg_len);
    e->rx_len[j] = (int32_t)mm->msg_len;
    if (e->rx_meta) {
      int32_t *m = e->rx_meta + (size_t)j * META_STRIDE;
      if (e->kind == KIND_PACKET) {
        packet_meta(e, i, m);
      } else {
        m[0] = -1;
        m[1] = -1;
        m[2] = -1;
        m[3] = ETH_P_IP;
      }
    }
    j++;
  }
  return (int)j;
}

static bool transient_rx_error(int err) {
  return err == ENETDOWN || err == ENOBUFS || err == ENOMEM || err == EHOSTUNREACH ||
         err == ENETUNREACH || err == ECONNREFUSED || err == EMSGSIZE || err == EINTR;
}

/* Calls a JS function from the poll callback; an exception goes to
 * process 'uncaughtException' (napi_fatal_exception), like any event callback. */
static void call_js(endpoint_t *e, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = e->env;
  napi_value fn, recv, result;
  if (!fn_ref || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); /* napi_make_callback wants an object receiver */
  e->in_callback = 1;
  napi_status st = napi_make_callback(env, e->rx_async, recv, fn, argc, argv, &result);
  e->in_callback = 0;
  if (st == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

/* onError(error, stopped): stopped = receiving ended (the handler may be set again) */
static void report_rx_error(endpoint_t *e, int err, const char *syscall, bool stopped) {
  napi_value argv[2];
  argv[0] = errno_error(e->env, err, syscall, e->name);
  napi_get_boolean(e->env, stopped, &argv[1]);
  call_js(e, e->rx_err_ref, 2, argv);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  endpoint_t *e = h->data;
  if (!e->polling || !e->rx_active) return;
  napi_env env = e->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status < 0) {
    uv_poll_stop(&e->poll);
    e->polling = 0;
    report_rx_error(e, -status, "uv_poll", true);
  } else {
    const char *sys = e->kind == KIND_TUN ? "read" : "recvmmsg";
    for (int round = 0; round < MAX_ROUNDS && e->polling; round++) {
      uint32_t got;
      int n = do_receive(e, &got);
      if (n < 0) {
        int err = -n;
        bool fatal = !transient_rx_error(err);
        if (fatal && e->polling) {
          uv_poll_stop(&e->poll);
          e->polling = 0;
        }
        report_rx_error(e, err, sys, fatal);
        break;
      }
      if (n > 0) {
        napi_value argv[1];
        e->rx_packets += n;
        e->rx_batches++;
        napi_create_uint32(env, (uint32_t)n, &argv[0]);
        call_js(e, e->rx_cb_ref, 1, argv);
      }
      if (got < e->rx_slots) break; /* drained */
    }
  }
  if (!e->polling) release_rx(e);
  napi_close_handle_scope(env, scope);
}

static bool ensure_poll(endpoint_t *e) {
  if (e->poll_init) return true;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(e->env, &loop) != napi_ok) return false;
  if (uv_poll_init(loop, &e->poll, e->fd) != 0) return false;
  e->poll.data = e;
  e->poll_init = 1;
  if (e->unrefed) uv_unref((uv_handle_t *)&e->poll);
  return true;
}

static endpoint_t *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                               napi_value *self) {
  napi_value this_arg;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &this_arg, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, this_arg, &data) != napi_ok || data == NULL) {
    throw_arg(env, "not a native endpoint");
    return NULL;
  }
  if (self) *self = this_arg;
  return data;
}

static bool ensure_open(napi_env env, endpoint_t *e, const char *op) {
  if (e->fd >= 0) return true;
  throw_errno(env, EBADF, op, "endpoint is closed");
  return false;
}

/* startReceive(slots, slotSize, lengths, meta | null, onBatch(count), onError(err, stopped))
 * The slots buffer must stay attached (not transferred) while receiving. To receive
 * again after stopReceive, call startReceive from outside the onBatch callback. */
static napi_value m_start_receive(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6] = {0}, self;
  endpoint_t *e = unwrap_this(env, info, &argc, argv, &self);
  if (!e) return NULL;
  if (!ensure_open(env, e, "startReceive")) return NULL;
  if (e->rx_active || e->polling) return throw_errno(env, EBUSY, "startReceive", "already receiving");

  uint8_t *base;
  size_t blen, nlen, nmeta = 0;
  uint32_t slot;
  int32_t *lens, *meta = NULL;
  napi_valuetype t4, t5;
  if (!get_bytes(env, argv[0], &base, &blen)) return throw_arg(env, "slots must be an ArrayBuffer or Uint8Array");
  if (!get_u32(env, argv[1], &slot) || slot == 0) return throw_arg(env, "slotSize must be a positive integer");
  if (!get_i32_array(env, argv[2], &lens, &nlen) || nlen == 0 || nlen > MAX_SLOTS)
    return throw_arg(env, "lengths must be an Int32Array of 1..4096 entries");
  if (!is_nullish(env, argv[3])) {
    if (!get_i32_array(env, argv[3], &meta, &nmeta) || nmeta < nlen * META_STRIDE)
      return throw_arg(env, "meta must be null or an Int32Array of lengths.length * META_STRIDE");
  }
  if ((size_t)slot * nlen > blen) return throw_arg(env, "slots buffer is smaller than lengths.length * slotSize");
  napi_typeof(env, argv[4], &t4);
  napi_typeof(env, argv[5], &t5);
  if (t4 != napi_function || t5 != napi_function) return throw_arg(env, "onBatch and onError must be functions");

  free_rx_arrays(e);
  if (e->kind != KIND_TUN) {
    e->rx_msgs = calloc(nlen, sizeof *e->rx_msgs);
    e->rx_iov = calloc(nlen, sizeof *e->rx_iov);
    e->rx_names = calloc(nlen, sizeof *e->rx_names);
    if (e->kind == KIND_PACKET) e->rx_ctrl = calloc(nlen, CTRL_SIZE);
    if (!e->rx_msgs || !e->rx_iov || !e->rx_names || (e->kind == KIND_PACKET && !e->rx_ctrl)) {
      free_rx_arrays(e);
      return throw_errno(env, ENOMEM, "startReceive", NULL);
    }
    for (size_t i = 0; i < nlen; i++) {
      e->rx_iov[i].iov_base = base + i * slot;
      e->rx_iov[i].iov_len = slot;
      struct msghdr *h = &e->rx_msgs[i].msg_hdr;
      h->msg_iov = &e->rx_iov[i];
      h->msg_iovlen = 1;
      h->msg_name = &e->rx_names[i];
      h->msg_namelen = sizeof(sockname_t);
      h->msg_control = e->rx_ctrl ? e->rx_ctrl + i * CTRL_SIZE : NULL;
      h->msg_controllen = e->rx_ctrl ? CTRL_SIZE : 0;
    }
  }
  if (!ensure_poll(e)) {
    free_rx_arrays(e);
    return throw_errno(env, EIO, "uv_poll_init", NULL);
  }

  napi_value resource, rname;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "AnNativeReceive", NAPI_AUTO_LENGTH, &rname));
  CHECK(napi_async_init(env, resource, rname, &e->rx_async));
  napi_create_reference(env, argv[0], 1, &e->rx_buf_ref);
  napi_create_reference(env, argv[2], 1, &e->rx_len_ref);
  if (meta) napi_create_reference(env, argv[3], 1, &e->rx_meta_ref);
  napi_create_reference(env, argv[4], 1, &e->rx_cb_ref);
  napi_create_reference(env, argv[5], 1, &e->rx_err_ref);
  napi_create_reference(env, self, 1, &e->self_ref); /* a receiving endpoint stays alive */
  e->rx_base = base;
  e->rx_slot = slot;
  e->rx_slots = (uint32_t)nlen;
  e->rx_len = lens;
  e->rx_meta = meta;
  e->rx_active = 1;

  int rc = uv_poll_start(&e->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    release_rx(e);
    return throw_errno(env, -rc, "uv_poll_start", NULL);
  }
  e->polling = 1;
  return NULL;
}

static napi_value m_stop_receive(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint_t *e = unwrap_this(env, info, &argc, NULL, NULL);
  if (e) stop_receive(e);
  return NULL;
}

/* ---------------------------------------------------------------------- send */

static bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

static bool fatal_tx_error(int err) {
  return err == EBADF || err == ENETDOWN || err == ENXIO || err == ENODEV || err == EBADFD ||
         err == EPIPE || err == ENOTSOCK || err == EIO;
}

/* Destination for one packet: AF_PACKET uses the bound ifindex and the frame's
 * ethertype; raw IPv4 routes by the destination in the caller's IPv4 header. */
static int fill_name(endpoint_t *e, const uint8_t *p, size_t len, sockname_t *name, socklen_t *nlen) {
  memset(name, 0, sizeof *name);
  if (e->kind == KIND_PACKET) {
    if (len < ETH_HLEN) return EINVAL;
    name->ll.sll_family = AF_PACKET;
    name->ll.sll_ifindex = e->ifindex;
    memcpy(&name->ll.sll_protocol, p + 12, 2);
    name->ll.sll_halen = ETH_ALEN;
    memcpy(name->ll.sll_addr, p, ETH_ALEN);
    *nlen = sizeof name->ll;
    return 0;
  }
  if (len < 20 || (p[0] >> 4) != 4) return EINVAL;
  name->in.sin_family = AF_INET;
  memcpy(&name->in.sin_addr, p + 16, 4);
  *nlen = sizeof name->in;
  return 0;
}

static int send_one(endpoint_t *e, const uint8_t *p, size_t len) {
  ssize_t r;
  if (e->kind == KIND_TUN) {
    do r = write(e->fd, p, len); while (r < 0 && errno == EINTR);
  } else {
    sockname_t name;
    socklen_t nlen;
    int err = fill_name(e, p, len, &name, &nlen);
    if (err) return err;
    do r = sendto(e->fd, p, len, MSG_DONTWAIT, (struct sockaddr *)&name, nlen); while (r < 0 && errno == EINTR);
  }
  return r < 0 ? errno : 0;
}

static const char *send_syscall(endpoint_t *e, bool batch) {
  return e->kind == KIND_TUN ? "write" : batch ? "sendmmsg" : "sendto";
}

/* send(data, offset?, length?) -> true, or false when the kernel would block / drop */
static napi_value m_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {0}, out;
  endpoint_t *e = unwrap_this(env, info, &argc, argv, NULL);
  if (!e) return NULL;
  if (!ensure_open(env, e, send_syscall(e, false))) return NULL;
  uint8_t *p;
  size_t len;
  uint32_t off = 0, n;
  if (!get_bytes(env, argv[0], &p, &len)) return throw_arg(env, "data must be an ArrayBuffer or Uint8Array");
  if (argc > 1 && !is_nullish(env, argv[1]) && !get_u32(env, argv[1], &off)) return throw_arg(env, "bad offset");
  if (off > len) return throw_arg(env, "offset out of range");
  n = (uint32_t)(len - off);
  if (argc > 2 && !is_nullish(env, argv[2]) && (!get_u32(env, argv[2], &n) || (size_t)off + n > len))
    return throw_arg(env, "length out of range");
  int err = send_one(e, p + off, n);
  if (err == 0) {
    e->tx_packets++;
    napi_get_boolean(env, true, &out);
    return out;
  }
  if (would_block(err)) {
    e->tx_would_block++;
    napi_get_boolean(env, false, &out);
    return out;
  }
  e->tx_errors++;
  e->last_tx_errno = err;
  return throw_errno(env, err, send_syscall(e, false), e->name);
}

static bool grow_tx(endpoint_t *e, uint32_t n) {
  if (n <= e->tx_cap) return true;
  struct mmsghdr *m = realloc(e->tx_msgs, n * sizeof *m);
  if (m) e->tx_msgs = m;
  struct iovec *v = realloc(e->tx_iov, n * sizeof *v);
  if (v) e->tx_iov = v;
  sockname_t *s = realloc(e->tx_names, n * sizeof *s);
  if (s) e->tx_names = s;
  if (!m || !v || !s) return false;
  e->tx_cap = n;
  return true;
}

/* sendBatch(slots, slotSize, lengths, count, first = 0) -> packets consumed from `first`.
 * Stops early only when the kernel would block (EAGAIN/ENOBUFS); a packet the kernel
 * refuses on its own (EMSGSIZE, EINVAL, EHOSTUNREACH, ...) is skipped and counted
 * (stats().txErrors, lastTxError). A socket-level error with nothing sent throws. */
static napi_value m_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {0}, out;
  endpoint_t *e = unwrap_this(env, info, &argc, argv, NULL);
  if (!e) return NULL;
  if (!ensure_open(env, e, send_syscall(e, true))) return NULL;
  uint8_t *base;
  size_t blen, nlen;
  uint32_t slot, count, first = 0;
  int32_t *lens;
  if (!get_bytes(env, argv[0], &base, &blen)) return throw_arg(env, "slots must be an ArrayBuffer or Uint8Array");
  if (!get_u32(env, argv[1], &slot) || slot == 0) return throw_arg(env, "slotSize must be a positive integer");
  if (!get_i32_array(env, argv[2], &lens, &nlen)) return throw_arg(env, "lengths must be an Int32Array");
  if (!get_u32(env, argv[3], &count) || count > nlen || (size_t)count * slot > blen)
    return throw_arg(env, "count out of range");
  if (argc > 4 && !is_nullish(env, argv[4]) && (!get_u32(env, argv[4], &first) || first > count))
    return throw_arg(env, "first out of range");
  for (uint32_t i = first; i < count; i++)
    if (lens[i] < 0 || (uint32_t)lens[i] > slot) return throw_arg(env, "a length is negative or exceeds slotSize");

  uint32_t i = first;
  int fatal = 0;
  if (e->kind == KIND_TUN) {
    while (i < count) {
      int err = send_one(e, base + (size_t)i * slot, (size_t)lens[i]);
      if (err == 0) { e->tx_packets++; i++; continue; }
      if (would_block(err)) { e->tx_would_block++; break; }
      if (fatal_tx_error(err)) { fatal = err; break; }
      e->tx_errors++; e->last_tx_errno = err; i++;
    }
  } else {
    if (!grow_tx(e, count)) return throw_errno(env, ENOMEM, "sendBatch", NULL);
    uint32_t k = i;
    while (k < count) {
      /* prepare messages from k on; a malformed one is skipped before the syscall */
      uint32_t m = 0, start = k;
      for (; k < count; k++) {
        uint8_t *p = base + (size_t)k * slot;
        socklen_t nl;
        if (fill_name(e, p, (size_t)lens[k], &e->tx_names[m], &nl) != 0) {
          if (m == 0) { e->tx_errors++; e->last_tx_errno = EINVAL; start = k + 1; continue; }
          break;
        }
        e->tx_iov[m].iov_base = p;
        e->tx_iov[m].iov_len = (size_t)lens[k];
        struct msghdr *h = &e->tx_msgs[m].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &e->tx_names[m];
        h->msg_namelen = nl;
        h->msg_iov = &e->tx_iov[m];
        h->msg_iovlen = 1;
        m++;
      }
      i = start;
      uint32_t done = 0;
      while (done < m) {
        int r = sendmmsg(e->fd, e->tx_msgs + done, m - done, MSG_DONTWAIT);
        if (r > 0) { done += (uint32_t)r; e->tx_packets += r; continue; }
        int err = r < 0 ? errno : EIO;
        if (err == EINTR) continue;
        if (would_block(err)) { e->tx_would_block++; break; }
        if (fatal_tx_error(err)) { fatal = err; break; }
        e->tx_errors++; e->last_tx_errno = err; done++; /* skip the refused packet */
      }
      i = start + done;
      if (done < m) break;
      /* if the inner loop stopped at a malformed packet, k points at it: go on */
    }
  }
  if (fatal) {
    e->last_tx_errno = fatal;
    if (i == first) return throw_errno(env, fatal, send_syscall(e, true), e->name);
  }
  napi_create_uint32(env, i - first, &out);
  return out;
}

/* ----------------------------------------------------------------- misc methods */

static napi_value m_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint_t *e = unwrap_this(env, info, &argc, NULL, NULL);
  if (e) endpoint_close(e);
  return NULL;
}

static napi_value m_ref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint_t *e = unwrap_this(env, info, &argc, NULL, NULL);
  if (!e) return NULL;
  e->unrefed = 0;
  if (e->poll_init && !e->poll_closing) uv_ref((uv_handle_t *)&e->poll);
  return NULL;
}

static napi_value m_unref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint_t *e = unwrap_this(env, info, &argc, NULL, NULL);
  if (!e) return NULL;
  e->unrefed = 1;
  if (e->poll_init && !e->poll_closing) uv_unref((uv_handle_t *)&e->poll);
  return NULL;
}

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

static napi_value m_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value obj, v;
  endpoint_t *e = unwrap_this(env, info, &argc, NULL, NULL);
  if (!e) return NULL;
  if (e->kind == KIND_PACKET && e->fd >= 0) {
    struct tpacket_stats st; /* read-and-reset in the kernel: accumulate */
    socklen_t sl = sizeof st;
    if (getsockopt(e->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0) {
      e->k_packets += st.tp_packets;
      e->k_drops += st.tp_drops;
    }
  }
  CHECK(napi_create_object(env, &obj));
  set_num(env, obj, "rxPackets", e->rx_packets);
  set_num(env, obj, "rxBatches", e->rx_batches);
  set_num(env, obj, "rxTruncated", e->rx_truncated);
  set_num(env, obj, "rxOutgoingDropped", e->rx_outgoing);
  set_num(env, obj, "txPackets", e->tx_packets);
  set_num(env, obj, "txErrors", e->tx_errors);
  set_num(env, obj, "txWouldBlock", e->tx_would_block);
  set_num(env, obj, "kernelPackets", e->k_packets);
  set_num(env, obj, "kernelDrops", e->k_drops);
  if (e->last_tx_errno) napi_create_string_utf8(env, errno_name(e->last_tx_errno), NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, obj, "lastTxError", v);
  return obj;
}

static napi_value endpoint_ctor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {0}, this_arg;
  void *token = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &this_arg, NULL));
  if (argc < 1 || napi_get_value_external(env, argv[0], &token) != napi_ok || token != &ctor_token)
    return throw_arg(env, "Endpoint is created by openPacket / openRawIPv4 / openTun");
  return this_arg;
}

/* Wraps an fd into a new Endpoint object (the fd is closed on failure). */
static napi_value new_endpoint(napi_env env, enum kind kind, int fd, int ifindex, const char *name) {
  addon_t *a;
  napi_value ctor, token, obj;
  endpoint_t *e;
  if (napi_get_instance_data(env, (void **)&a) != napi_ok || !a) { close(fd); return NULL; }
  e = calloc(1, sizeof *e);
  if (!e) { close(fd); return throw_errno(env, ENOMEM, "open", NULL); }
  e->env = env;
  e->kind = kind;
  e->fd = fd;
  e->ifindex = ifindex;
  snprintf(e->name, sizeof e->name, "%s", name ? name : "");
  if (napi_get_reference_value(env, a->ctor, &ctor) != napi_ok ||
      napi_create_external(env, &ctor_token, NULL, NULL, &token) != napi_ok ||
      napi_new_instance(env, ctor, 1, &token, &obj) != napi_ok ||
      napi_wrap(env, obj, e, finalize_endpoint, NULL, NULL) != napi_ok) {
    close(fd);
    free(e);
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"fd", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifindex", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
    {"name", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_create_int32(env, fd, &props[0].value);
  napi_create_int32(env, ifindex, &props[1].value);
  napi_create_string_utf8(env, e->name, NAPI_AUTO_LENGTH, &props[2].value);
  napi_define_properties(env, obj, 3, props);
  return obj;
}

/* --------------------------------------------------------------------- openers */

static void set_buffers(int fd, uint32_t rcv, uint32_t snd) {
  if (rcv && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  if (snd && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
}

#define FAIL_FD(fd, call, detail)          \
  do {                                     \
    int err_ = errno;                      \
    close(fd);                             \
    return throw_errno(env, err_, call, detail); \
  } while (0)

/* openPacket(ifname, { filter: "ipv6" | "all", vlan, promiscuous, afterTc, receiveBufferBytes, sendBufferBytes })
 * The socket is created with protocol 0 (receives nothing), the filter is attached,
 * and only then bind() selects ETH_P_ALL on the interface: no unfiltered frame can
 * be queued in between. */
static napi_value f_open_packet(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {0}, obj, v;
  char ifname[IFNAMSIZ], filter[8] = "ipv6";
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_string(env, argv[0], ifname, sizeof ifname)) return throw_arg(env, "ifname must be a string of at most 15 bytes");
  napi_value opts = argc > 1 ? argv[1] : NULL;
  napi_value fv = get_prop(env, opts, "filter");
  if (fv && !get_string(env, fv, filter, sizeof filter)) return throw_arg(env, "filter must be \"ipv6\" or \"all\"");
  bool all = strcmp(filter, "all") == 0;
  if (!all && strcmp(filter, "ipv6") != 0) return throw_arg(env, "filter must be \"ipv6\" or \"all\"");
  bool vlan = opt_bool(env, opts, "vlan", false);
  bool promisc = opt_bool(env, opts, "promiscuous", false);
  /* afterTc: bind to ETH_P_IPV6, not ETH_P_ALL. Taps (ETH_P_ALL) see every frame
   * before tc ingress runs, so frames the kernel fast path redirects would reach
   * us too; protocol handlers run after it and see only what tc passed on. */
  bool after_tc = opt_bool(env, opts, "afterTc", false);
  if (after_tc && (all || vlan)) return throw_arg(env, "afterTc needs filter \"ipv6\" without vlan");

  unsigned idx = if_nametoindex(ifname);
  if (idx == 0) return throw_errno(env, errno ? errno : ENODEV, "if_nametoindex", ifname);
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_PACKET)", ifname);

  /* Drop PACKET_OUTGOING (also covers kernels without PACKET_IGNORE_OUTGOING);
   * in "ipv6" mode accept ethertype 0x86dd only; 802.1Q tags are removed by the
   * kernel before taps see the frame, so tagged IPv6 is accepted iff `vlan`. */
  struct sock_filter ipv6_prog[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 5, 0),
    /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT),
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, vlan ? 0 : 3),
    /* 4 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 1),
    /* 6 */ BPF_STMT(BPF_RET | BPF_K, BPF_ACCEPT),
    /* 7 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_filter all_prog[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 1, 0),
    /* 2 */ BPF_STMT(BPF_RET | BPF_K, BPF_ACCEPT),
    /* 3 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog prog;
  prog.filter = all ? all_prog : ipv6_prog;
  prog.len = all ? 4 : 8;
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
    FAIL_FD(fd, "setsockopt(SO_ATTACH_FILTER)", ifname);

  int one = 1;
  bool ignore_outgoing = true;
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0) {
    if (errno != ENOPROTOOPT && errno != EINVAL) FAIL_FD(fd, "setsockopt(PACKET_IGNORE_OUTGOING)", ifname);
    ignore_outgoing = false; /* Linux < 4.20: the BPF pkttype test and the pkttype check do it */
  }
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0)
    FAIL_FD(fd, "setsockopt(PACKET_AUXDATA)", ifname);
  set_buffers(fd, opt_u32(env, opts, "receiveBufferBytes", 0), opt_u32(env, opts, "sendBufferBytes", 0));

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(after_tc ? ETH_P_IPV6 : ETH_P_ALL);
  sll.sll_ifindex = (int)idx;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) FAIL_FD(fd, "bind(AF_PACKET)", ifname);

  if (promisc) {
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = (int)idx;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
      FAIL_FD(fd, "setsockopt(PACKET_ADD_MEMBERSHIP)", ifname);
  }
  obj = new_endpoint(env, KIND_PACKET, fd, (int)idx, ifname);
  if (!obj) return NULL;
  napi_get_boolean(env, ignore_outgoing, &v);
  napi_set_named_property(env, obj, "kernelIgnoresOutgoing", v);
  return obj;
}

/* openRawIPv4(protocol, { interface, receiveBufferBytes, sendBufferBytes, icmpErrorsOnly })
 * IP_HDRINCL: the caller writes the IPv4 header, any source address (CAP_NET_RAW);
 * the kernel fills only the checksum, total length and (when 0) the identification.
 * Such packets are never fragmented: bigger than the route MTU gives EMSGSIZE. */
static napi_value f_open_raw(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {0};
  uint32_t proto;
  char ifname[IFNAMSIZ] = "";
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_u32(env, argv[0], &proto) || proto == 0 || proto > 254) return throw_arg(env, "protocol must be 1..254");
  napi_value opts = argc > 1 ? argv[1] : NULL;
  napi_value iv = get_prop(env, opts, "interface");
  if (iv && !get_string(env, iv, ifname, sizeof ifname)) return throw_arg(env, "interface must be a string");
  int idx = 0;
  if (*ifname) {
    idx = (int)if_nametoindex(ifname);
    if (idx == 0) return throw_errno(env, errno ? errno : ENODEV, "if_nametoindex", ifname);
  }
  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)proto);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_INET, SOCK_RAW)", NULL);
  int one = 1, pmtu = IP_PMTUDISC_DONT;
  if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) != 0) FAIL_FD(fd, "setsockopt(IP_HDRINCL)", NULL);
  if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) != 0)
    FAIL_FD(fd, "setsockopt(IP_MTU_DISCOVER)", NULL);
  if (setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0) FAIL_FD(fd, "setsockopt(IP_FREEBIND)", NULL);
  if (*ifname && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) != 0)
    FAIL_FD(fd, "setsockopt(SO_BINDTODEVICE)", ifname);
  /* icmpErrorsOnly (protocol 1): the kernel queues only Destination Unreachable, Time
   * Exceeded and Parameter Problem (ICMP_FILTER: a set bit drops that type), so echo
   * traffic on the host never reaches the event loop. */
  if (proto == IPPROTO_ICMP && opt_bool(env, opts, "icmpErrorsOnly", false)) {
    struct an_icmp_filter filt;
    filt.data = ~((1U << 3) | (1U << 11) | (1U << 12)); /* dest unreachable, time exceeded, parameter problem */
    if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &filt, sizeof filt) != 0) FAIL_FD(fd, "setsockopt(ICMP_FILTER)", NULL);
  }
  set_buffers(fd, opt_u32(env, opts, "receiveBufferBytes", 0), opt_u32(env, opts, "sendBufferBytes", 0));
  return new_endpoint(env, KIND_RAW4, fd, idx, ifname);
}

/* openTun(name, { tap }) -> endpoint; endpoint.name is the kernel's name. */
static napi_value f_open_tun(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {0};
  char name[IFNAMSIZ] = "";
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!is_nullish(env, argv[0]) && !get_string(env, argv[0], name, sizeof name))
    return throw_arg(env, "name must be a string of at most 15 bytes");
  bool tap = opt_bool(env, argc > 1 ? argv[1] : NULL, "tap", false);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open(/dev/net/tun)", NULL);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI);
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) FAIL_FD(fd, "ioctl(TUNSETIFF)", name);
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  int idx = (int)if_nametoindex(ifr.ifr_name);
  return new_endpoint(env, KIND_TUN, fd, idx, ifr.ifr_name);
}

/* ------------------------------------------------- unix datagram (control sockets)
 * openUnixDgram(path) -> endpoint connected to a local datagram socket, e.g.
 * hostapd's control interface. The local end is autobound to a unique abstract
 * address (bind with only the family), so the peer can reply and nothing is left
 * in the filesystem. A connected datagram socket reads and writes one datagram
 * per read()/write(), as a TUN fd does, so the endpoint uses that (KIND_TUN) path.
 * ENOENT: no such socket; ECONNREFUSED: a stale socket file, nobody listening. */
#include <stddef.h>
#include <sys/un.h>
static napi_value f_open_unix_dgram(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {0};
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_string(env, argv[0], path, sizeof path) || path[0] == '\0')
    return throw_arg(env, "path must be a non-empty string of at most 107 bytes");
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_UNIX, SOCK_DGRAM)", NULL);
  struct sockaddr_un local;
  memset(&local, 0, sizeof local);
  local.sun_family = AF_UNIX;
  if (bind(fd, (struct sockaddr *)&local, sizeof(sa_family_t)) != 0) FAIL_FD(fd, "bind(AF_UNIX autobind)", NULL);
  struct sockaddr_un peer;
  memset(&peer, 0, sizeof peer);
  peer.sun_family = AF_UNIX;
  memcpy(peer.sun_path, path, strlen(path));
  if (connect(fd, (struct sockaddr *)&peer, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1)) != 0)
    FAIL_FD(fd, "connect(AF_UNIX)", path);
  return new_endpoint(env, KIND_TUN, fd, 0, "");
}

/* interfaceInfo(name) -> { name, index, mtu, mac: Uint8Array(6) | null, up } */
static napi_value f_interface_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {0}, obj, v;
  char name[IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_string(env, argv[0], name, sizeof name)) return throw_arg(env, "name must be a string of at most 15 bytes");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_INET, SOCK_DGRAM)", NULL);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) FAIL_FD(fd, "ioctl(SIOCGIFINDEX)", name);
  int index = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) FAIL_FD(fd, "ioctl(SIOCGIFMTU)", name);
  int mtu = ifr.ifr_mtu;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) FAIL_FD(fd, "ioctl(SIOCGIFFLAGS)", name);
  bool up = (ifr.ifr_flags & IFF_UP) != 0;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) FAIL_FD(fd, "ioctl(SIOCGIFHWADDR)", name);
  close(fd);
  CHECK(napi_create_object(env, &obj));
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "name", v);
  napi_create_int32(env, index, &v);
  napi_set_named_property(env, obj, "index", v);
  napi_create_int32(env, mtu, &v);
  napi_set_named_property(env, obj, "mtu", v);
  napi_get_boolean(env, up, &v);
  napi_set_named_property(env, obj, "up", v);
  if (ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
    napi_value ab;
    void *p;
    CHECK(napi_create_arraybuffer(env, ETH_ALEN, &p, &ab));
    memcpy(p, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
    CHECK(napi_create_typedarray(env, napi_uint8_array, ETH_ALEN, ab, 0, &v));
  } else {
    napi_get_null(env, &v);
  }
  napi_set_named_property(env, obj, "mac", v);
  return obj;
}

/* ------------------------------------------------------------------------- init */

static void free_addon(napi_env env, void *data, void *hint) {
  addon_t *a = data;
  if (a->ctor) napi_delete_reference(env, a->ctor);
  free(a);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    {"startReceive", NULL, m_start_receive, NULL, NULL, NULL, napi_default, NULL},
    {"stopReceive", NULL, m_stop_receive, NULL, NULL, NULL, napi_default, NULL},
    {"send", NULL, m_send, NULL, NULL, NULL, napi_default, NULL},
    {"sendBatch", NULL, m_send_batch, NULL, NULL, NULL, napi_default, NULL},
    {"stats", NULL, m_stats, NULL, NULL, NULL, napi_default, NULL},
    {"ref", NULL, m_ref, NULL, NULL, NULL, napi_default, NULL},
    {"unref", NULL, m_unref, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, m_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value ctor, v;
  CHECK(napi_define_class(env, "Endpoint", NAPI_AUTO_LENGTH, endpoint_ctor, NULL,
                          sizeof methods / sizeof methods[0], methods, &ctor));
  addon_t *a = calloc(1, sizeof *a);
  if (!a) return throw_errno(env, ENOMEM, "init", NULL);
  CHECK(napi_create_reference(env, ctor, 1, &a->ctor));
  CHECK(napi_set_instance_data(env, a, free_addon, NULL));

  napi_property_descriptor fns[] = {
    {"openPacket", NULL, f_open_packet, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openRawIPv4", NULL, f_open_raw, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openTun", NULL, f_open_tun, NULL, NULL, NULL, napi_enumerable, NULL},
    {"interfaceInfo", NULL, f_interface_info, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openUnixDgram", NULL, f_open_unix_dgram, NULL, NULL, NULL, napi_enumerable, NULL},
    {"Endpoint", NULL, NULL, NULL, NULL, ctor, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  napi_create_uint32(env, META_STRIDE, &v);
  napi_set_named_property(env, exports, "META_STRIDE", v);
  CHECK(an_fastpath_init(env, exports));
  napi_create_uint32(env, 2, &v);
  napi_set_named_property(env, exports, "ABI", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
