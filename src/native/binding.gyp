{
  "variables": {
    # libbpf (Debian libbpf-dev) for the kernel fast path loader; without it the addon
    # still builds and the fast path reports ENOTSUP (the userspace datapath is used).
    "have_libbpf": "<!(pkg-config --exists libbpf 2>/dev/null && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "an_native",
      "sources": ["an_native.c", "an_fastpath.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "ldflags": ["-Wl,-z,noexecstack"],
      "conditions": [
        ["have_libbpf==1", {
          "defines": ["AN_HAVE_LIBBPF"],
          "cflags_c": ["<!@(pkg-config --cflags libbpf)"],
          # libbpf.so.1 is opened with dlopen at first use (an_fastpath.c): the addon loads,
          # and the userspace datapath works, on a board without libbpf.
          "libraries": ["-ldl"]
        }]
      ]
    }
  ]
}
