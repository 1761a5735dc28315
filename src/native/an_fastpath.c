/*
 * an_fastpath: loads the kernel fast path (src/bpf/an_fastpath.bpf.c) with libbpf,
 * attaches it to the tc ingress hooks (clsact) of the access link and the uplink,
 * and gives the JS side its maps.
 *
 * libbpf (linked in when the build finds it, see binding.gyp) does the ELF parsing,
 * map creation, relocation and the tc netlink messages: hand-written, that is an ELF
 * loader plus a netlink client. Without libbpf at build time every function here
 * throws ENOTSUP and the daemon uses the userspace datapath.
 *
 * One fast path per process (global state). Attached as tcx links where the kernel
 * has them (6.6+: released with the process), else as clsact filters with a fixed
 * handle and priority (AN_TC_HANDLE/AN_TC_PRIORITY): at load, any filter with them
 * left by a crashed run is removed first, and close removes ours. Nothing is pinned,
 * so the maps and programs go with the links or filters. The clsact qdisc is left in
 * place: other programs (e.g. OpenWrt's qosify) may use it.
 */
#include "an_fastpath.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AN_TC_HANDLE 0x414e   /* "AN" */
#define AN_TC_PRIORITY 0x414e
#define FP_MAPS 4             /* up, down, cfg, stats: the order of the JS constants */
#define FP_STATS_MAX 64

static const char *const map_names[FP_MAPS] = {"an_up", "an_down", "an_cfg", "an_stats"};

static napi_value throw_fp(napi_env env, int err, const char *syscall, const char *detail) {
  napi_throw(env, an_errno_error(env, err, syscall, detail));
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

#ifdef AN_HAVE_LIBBPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>

/*
 * libbpf is opened at run time (dlopen "libbpf.so.1", ABI-stable across 1.x): the
 * headers come from libbpf-dev at build time, the library from the board's image
 * if it has one. Without it the fast path says so and the daemon runs userspace.
 */
#define LIBBPF_FUNCS(X)                                                                             \
  X(libbpf_set_print) X(libbpf_get_error) X(libbpf_num_possible_cpus) X(bpf_object__open_file)      \
  X(bpf_object__load) X(bpf_object__close) X(bpf_object__find_map_by_name) X(bpf_map__set_max_entries) \
  X(bpf_map__fd) X(bpf_object__find_program_by_name) X(bpf_program__fd) X(bpf_tc_hook_create)        \
  X(bpf_tc_attach) X(bpf_tc_detach) X(bpf_map_update_elem) X(bpf_map_delete_elem)                   \
  X(bpf_map_lookup_elem) X(bpf_map_get_next_key) X(bpf_link_create) X(bpf_object__open_mem)

static struct {
#define FIELD(name) __typeof__(&name) name;
  LIBBPF_FUNCS(FIELD)
#undef FIELD
} lib;
static void *lib_handle;
static char lib_error[256];

/* 0 when libbpf is ready; otherwise ENOENT with the reason in lib_error. */
static int open_libbpf(void) {
  if (lib_handle) return 0;
  void *h = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(lib_error, sizeof lib_error, "libbpf.so.1 not loadable: %s", dlerror());
    return ENOENT;
  }
#define LOAD(name)                                                                 \
  lib.name = (__typeof__(&name))dlsym(h, #name);                                  \
  if (!lib.name) {                                                                 \
    snprintf(lib_error, sizeof lib_error, "libbpf.so.1 lacks %s (too old)", #name); \
    dlclose(h);                                                                    \
    return ENOENT;                                                                 \
  }
  LIBBPF_FUNCS(LOAD)
#undef LOAD
  lib_handle = h;
  return 0;
}

/* Linux 6.6 tcx ingress (enum bpf_attach_type); the build headers may predate it. */
#define AN_BPF_TCX_INGRESS 46

static struct {
  struct bpf_object *obj;
  int map_fd[FP_MAPS];
  int ifindex[2]; /* access, uplink */
  bool attached[2]; /* a tc (netlink) filter of ours */
  int link_fd[2];   /* a tcx link, or -1 */
} fp = {NULL, {-1, -1, -1, -1}, {0, 0}, {false, false}, {-1, -1}};

/* The last libbpf warning, for the error message (the verifier log can be long: its tail). */
static char last_log[512];

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  int n = vsnprintf(line, sizeof line, fmt, ap);
  if (n <= 0) return 0;
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
  if (n > 0) snprintf(last_log, sizeof last_log, "%s", line);
  return 0;
}

static void hook_of(struct bpf_tc_hook *h, int ifindex) {
  memset(h, 0, sizeof *h);
  h->sz = sizeof *h;
  h->ifindex = ifindex;
  h->attach_point = BPF_TC_INGRESS;
}

/* Removes our filter from the ingress hook of `ifindex`: 0, or -errno (-ENOENT: none there). */
static int detach_ours(int ifindex) {
  struct bpf_tc_hook h;
  hook_of(&h, ifindex);
  struct bpf_tc_opts o;
  memset(&o, 0, sizeof o);
  o.sz = sizeof o;
  o.handle = AN_TC_HANDLE;
  o.priority = AN_TC_PRIORITY;
  int r = lib.bpf_tc_detach(&h, &o);
  /* No clsact at all (EINVAL/ENOENT) is the same as no filter. */
  return r == -EINVAL ? -ENOENT : r;
}

static void release_all(void) {
  for (int i = 0; i < 2; i++) {
    if (fp.attached[i]) detach_ours(fp.ifindex[i]);
    fp.attached[i] = false;
    if (fp.link_fd[i] >= 0) close(fp.link_fd[i]);
    fp.link_fd[i] = -1;
  }
  if (fp.obj) lib.bpf_object__close(fp.obj);
  fp.obj = NULL;
  for (int i = 0; i < FP_MAPS; i++) fp.map_fd[i] = -1;
}

/*
 * Attaches `prog` to the ingress of `ifindex`. Preferred: a tcx link (Linux 6.6),
 * owned by a file descriptor of this process, so the kernel detaches it when the
 * process dies however it dies: a crashed daemon leaves nothing forwarding on stale
 * maps. Older kernels (EINVAL for the unknown attach type): a clsact filter with our
 * handle and priority, removed at stop and by the next start.
 */
static int attach_one(int slot, int ifindex, struct bpf_program *prog, const char **where, bool *tcx) {
  /* AN_FASTPATH_ATTACH=tc forces the pre-6.6 way (tests of it on a newer kernel). */
  const char *force = getenv("AN_FASTPATH_ATTACH");
  bool want_tcx = !(force && strcmp(force, "tc") == 0);
  int lfd = want_tcx ? lib.bpf_link_create(lib.bpf_program__fd(prog), ifindex, (enum bpf_attach_type)AN_BPF_TCX_INGRESS, NULL) : -1;
  if (lfd >= 0) {
    fp.ifindex[slot] = ifindex;
    fp.link_fd[slot] = lfd;
    *tcx = true;
    return 0;
  }
  *tcx = false;
  struct bpf_tc_hook h;
  hook_of(&h, ifindex);
  int r = lib.bpf_tc_hook_create(&h);
  if (r && r != -EEXIST) {
    *where = "tc qdisc add clsact";
    return r;
  }
  struct bpf_tc_opts o;
  memset(&o, 0, sizeof o);
  o.sz = sizeof o;
  o.prog_fd = lib.bpf_program__fd(prog);
  o.handle = AN_TC_HANDLE;
  o.priority = AN_TC_PRIORITY;
  o.flags = BPF_TC_F_REPLACE;
  r = lib.bpf_tc_attach(&h, &o);
  if (r) {
    *where = "tc filter add ingress";
    return r;
  }
  fp.ifindex[slot] = ifindex;
  fp.attached[slot] = true;
  return 0;
}

static bool get_bytes(napi_env env, napi_value value, void **data, size_t *len);

/*
 * fastpathLoad(object, { accessIfindex, uplinkIfindex, maxEntries }) -> "tcx" | "tc"
 * object: a file path, or the object's bytes (a firmware image embeds them).
 */
static napi_value f_load(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_type(env, "fastpathLoad(object, options)");
  char path[1024] = "";
  size_t len = 0;
  void *mem = NULL;
  size_t mem_len = 0;
  bool from_mem = get_bytes(env, argv[0], &mem, &mem_len);
  if (from_mem ? mem_len == 0
               : (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1))
    return throw_type(env, "object must be a non-empty path or Uint8Array");
  uint32_t access = 0, uplink = 0, max_entries = 0;
  napi_value v;
  if (napi_get_named_property(env, argv[1], "accessIfindex", &v) != napi_ok || napi_get_value_uint32(env, v, &access) != napi_ok ||
      napi_get_named_property(env, argv[1], "uplinkIfindex", &v) != napi_ok || napi_get_value_uint32(env, v, &uplink) != napi_ok ||
      napi_get_named_property(env, argv[1], "maxEntries", &v) != napi_ok || napi_get_value_uint32(env, v, &max_entries) != napi_ok ||
      access == 0 || uplink == 0 || max_entries == 0)
    return throw_type(env, "accessIfindex, uplinkIfindex and maxEntries must be positive integers");
  if (fp.obj) return throw_fp(env, EBUSY, "fastpathLoad", "already loaded in this process");
  if (open_libbpf() != 0) return throw_fp(env, ENOENT, "dlopen", lib_error);

  lib.libbpf_set_print(capture_print);
  last_log[0] = 0;
  /* A crashed run's filters first: they reference maps nobody updates any more. */
  detach_ours((int)access);
  detach_ours((int)uplink);

  struct bpf_object *obj = from_mem ? lib.bpf_object__open_mem(mem, mem_len, NULL) : lib.bpf_object__open_file(path, NULL);
  long oerr = lib.libbpf_get_error(obj);
  if (oerr) return throw_fp(env, (int)-oerr, from_mem ? "bpf_object__open_mem" : "bpf_object__open_file", last_log[0] ? last_log : from_mem ? "(embedded object)" : path);
  fp.obj = obj;
  for (int i = 0; i < 2; i++) {
    struct bpf_map *m = lib.bpf_object__find_map_by_name(obj, map_names[i]);
    if (!m) {
      release_all();
      return throw_fp(env, ENOENT, "bpf_object__find_map_by_name", map_names[i]);
    }
    lib.bpf_map__set_max_entries(m, max_entries);
  }
  /*
   * The verifier gives up with EAGAIN when a signal is pending (it checks between
   * instructions), and libbpf retries only a few times: a daemon under `--cpu-prof`
   * (V8 samples with SIGPROF every millisecond) failed to load now and then. Signals
   * are blocked on this thread for the load and delivered after it.
   */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int r = lib.bpf_object__load(obj);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r) {
    int e = -r;
    char detail[600];
    snprintf(detail, sizeof detail, "%s", last_log[0] ? last_log : "(no libbpf message)");
    release_all();
    return throw_fp(env, e, "bpf_object__load", detail);
  }
  for (int i = 0; i < FP_MAPS; i++) {
    struct bpf_map *m = lib.bpf_object__find_map_by_name(obj, map_names[i]);
    fp.map_fd[i] = m ? lib.bpf_map__fd(m) : -1;
    if (fp.map_fd[i] < 0) {
      release_all();
      return throw_fp(env, ENOENT, "bpf_map__fd", map_names[i]);
    }
  }
  struct bpf_program *up = lib.bpf_object__find_program_by_name(obj, "an_uplink");
  struct bpf_program *down = lib.bpf_object__find_program_by_name(obj, "an_downlink");
  if (!up || !down) {
    release_all();
    return throw_fp(env, ENOENT, "bpf_object__find_program_by_name", "an_uplink/an_downlink");
  }
  const char *where = "";
  bool tcx_up = false, tcx_down = false;
  r = attach_one(0, (int)access, up, &where, &tcx_up);
  if (!r) r = attach_one(1, (int)uplink, down, &where, &tcx_down);
  if (r) {
    release_all();
    return throw_fp(env, -r, where, last_log);
  }
  /* How it is attached: "tcx" (dies with the process) or "tc" (a filter we remove). */
  napi_create_string_utf8(env, tcx_up && tcx_down ? "tcx" : "tc", NAPI_AUTO_LENGTH, &v);
  return v;
}

/* fastpathClose(): our filters off both interfaces, programs and maps freed. Idempotent. */
static napi_value f_close(napi_env env, napi_callback_info info) {
  release_all();
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

/* fastpathDetach(ifindex): removes a filter of ours without loading (stale cleanup); true if one was there. */
static napi_value f_detach(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  uint32_t ifindex = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_uint32(env, argv[0], &ifindex) != napi_ok)
    return throw_type(env, "fastpathDetach(ifindex)");
  if (open_libbpf() != 0) return throw_fp(env, ENOENT, "dlopen", lib_error);
  lib.libbpf_set_print(capture_print);
  int r = detach_ours((int)ifindex);
  if (r && r != -ENOENT) return throw_fp(env, -r, "tc filter del ingress", last_log);
  napi_get_boolean(env, r == 0, &v);
  return v;
}

static bool get_bytes(napi_env env, napi_value value, void **data, size_t *len) {
  napi_typedarray_type t;
  size_t n, off;
  napi_value ab;
  if (napi_get_typedarray_info(env, value, &t, &n, data, &ab, &off) != napi_ok || t != napi_uint8_array) return false;
  *len = n;
  return true;
}

static int map_arg(napi_env env, napi_value v) {
  uint32_t m = 0;
  if (napi_get_value_uint32(env, v, &m) != napi_ok || m >= FP_MAPS) return -1;
  return (int)m;
}

/* fastpathUpdate(map, key, value) */
static napi_value f_update(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], v;
  void *k, *val;
  size_t kl, vl;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return throw_type(env, "fastpathUpdate(map, key, value)");
  int m = map_arg(env, argv[0]);
  if (m < 0 || !get_bytes(env, argv[1], &k, &kl) || !get_bytes(env, argv[2], &val, &vl)) return throw_type(env, "map index, Uint8Array key and value");
  if (fp.map_fd[m] < 0) return throw_fp(env, EBADF, "bpf_map_update_elem", "fast path not loaded");
  if (lib.bpf_map_update_elem(fp.map_fd[m], k, val, BPF_ANY) != 0) return throw_fp(env, errno, "bpf_map_update_elem", map_names[m]);
  napi_get_undefined(env, &v);
  return v;
}

/* fastpathDelete(map, key): true if it was there */
static napi_value f_delete(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], v;
  void *k;
  size_t kl;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_type(env, "fastpathDelete(map, key)");
  int m = map_arg(env, argv[0]);
  if (m < 0 || !get_bytes(env, argv[1], &k, &kl)) return throw_type(env, "map index, Uint8Array key");
  if (fp.map_fd[m] < 0) return throw_fp(env, EBADF, "bpf_map_delete_elem", "fast path not loaded");
  int r = lib.bpf_map_delete_elem(fp.map_fd[m], k);
  if (r != 0 && errno != ENOENT) return throw_fp(env, errno, "bpf_map_delete_elem", map_names[m]);
  napi_get_boolean(env, r == 0, &v);
  return v;
}

/* fastpathLookup(map, key, out): true if found (value copied to out) */
static napi_value f_lookup(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], v;
  void *k, *out;
  size_t kl, ol;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return throw_type(env, "fastpathLookup(map, key, out)");
  int m = map_arg(env, argv[0]);
  if (m < 0 || !get_bytes(env, argv[1], &k, &kl) || !get_bytes(env, argv[2], &out, &ol)) return throw_type(env, "map index, Uint8Array key and out");
  if (fp.map_fd[m] < 0) return throw_fp(env, EBADF, "bpf_map_lookup_elem", "fast path not loaded");
  int r = lib.bpf_map_lookup_elem(fp.map_fd[m], k, out);
  if (r != 0 && errno != ENOENT) return throw_fp(env, errno, "bpf_map_lookup_elem", map_names[m]);
  napi_get_boolean(env, r == 0, &v);
  return v;
}

/* fastpathDump(map, keySize, valueSize, out): entries written to out as key||value; returns the count. */
static napi_value f_dump(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], v;
  void *out;
  size_t ol;
  uint32_t ks = 0, vs = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return throw_type(env, "fastpathDump(map, keySize, valueSize, out)");
  int m = map_arg(env, argv[0]);
  if (m < 0 || napi_get_value_uint32(env, argv[1], &ks) != napi_ok || napi_get_value_uint32(env, argv[2], &vs) != napi_ok ||
      ks == 0 || ks > 64 || vs == 0 || vs > 256 || !get_bytes(env, argv[3], &out, &ol))
    return throw_type(env, "map index, key and value sizes, Uint8Array out");
  if (fp.map_fd[m] < 0) return throw_fp(env, EBADF, "bpf_map_get_next_key", "fast path not loaded");
  unsigned char key[64], next[64];
  size_t stride = ks + vs, count = 0;
  bool first = true;
  while ((count + 1) * stride <= ol) {
    if (lib.bpf_map_get_next_key(fp.map_fd[m], first ? NULL : key, next) != 0) break;
    first = false;
    memcpy(key, next, ks);
    unsigned char *at = (unsigned char *)out + count * stride;
    if (lib.bpf_map_lookup_elem(fp.map_fd[m], key, at + ks) != 0) continue; /* deleted meanwhile */
    memcpy(at, key, ks);
    count++;
  }
  napi_create_uint32(env, (uint32_t)count, &v);
  return v;
}

/* fastpathStats(): the global per-CPU counters summed, as numbers (exact below 2^53). */
static napi_value f_stats(napi_env env, napi_callback_info info) {
  napi_value arr, v;
  if (fp.map_fd[3] < 0) return throw_fp(env, EBADF, "bpf_map_lookup_elem", "fast path not loaded");
  int cpus = lib.libbpf_num_possible_cpus();
  if (cpus <= 0) return throw_fp(env, -cpus, "libbpf_num_possible_cpus", NULL);
  uint64_t *vals = calloc((size_t)cpus, sizeof *vals);
  if (!vals) return throw_fp(env, ENOMEM, "fastpathStats", NULL);
  napi_create_array(env, &arr);
  for (uint32_t i = 0; i < FP_STATS_MAX; i++) {
    if (lib.bpf_map_lookup_elem(fp.map_fd[3], &i, vals) != 0) break; /* past the array's end */
    uint64_t sum = 0;
    for (int c = 0; c < cpus; c++) sum += vals[c];
    napi_create_double(env, (double)sum, &v);
    napi_set_element(env, arr, i, v);
  }
  free(vals);
  return arr;
}

#define SUPPORTED true
#else
static napi_value f_unsupported(napi_env env, napi_callback_info info) {
  return throw_fp(env, ENOTSUP, "fastpath", "the addon was built without libbpf");
}
#define f_load f_unsupported
#define f_close f_unsupported
#define f_detach f_unsupported
#define f_update f_unsupported
#define f_delete f_unsupported
#define f_lookup f_unsupported
#define f_dump f_unsupported
#define f_stats f_unsupported
#define SUPPORTED false
#endif

napi_status an_fastpath_init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
    {"fastpathLoad", NULL, f_load, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fastpathClose", NULL, f_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fastpathDetach", NULL, f_detach, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fastpathUpdate", NULL, f_update, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fastpathDelete", NULL, f_delete, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fastpathLookup", NULL, f_lookup, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fastpathDump", NULL, f_dump, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fastpathStats", NULL, f_stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  if (s != napi_ok) return s;
  napi_value v;
  napi_get_boolean(env, SUPPORTED, &v);
  return napi_set_named_property(env, exports, "fastpathSupported", v);
}
