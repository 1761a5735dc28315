/* The fast path loader's entry points for an_native.c (see an_fastpath.c). */
#ifndef AN_FASTPATH_H
#define AN_FASTPATH_H
#include <node_api.h>

/* The error an_native throws everywhere: .code (errno name), .errno, .syscall. */
napi_value an_errno_error(napi_env env, int err, const char *syscall, const char *detail);
/* Adds fastpath* functions and `fastpathSupported` to the exports. */
napi_status an_fastpath_init(napi_env env, napi_value exports);
#endif
