// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Access Node kernel fast path (DESIGN.md 8): two tc programs for bound sessions.
 *
 *   an_uplink   on the access link's tc ingress: an IPv6 frame from a bound MN MAC
 *               is encapsulated (IPv6-in-IPv4, protocol 41, or GRE with the MN's key,
 *               RFC 2890) and redirected to the uplink with the next hop's MAC.
 *   an_downlink on the uplink's tc ingress: protocol 41 or GRE to a bound CoA (and
 *               key) from that MN's HA is stripped and redirected to the access link
 *               in an Ethernet frame to the MN's MAC from the learned RA source.
 *
 * Everything the engine must see returns TC_ACT_OK and so reaches the daemon's
 * sockets (the slow path): unknown or unbound MNs, all ND (RS/RA/NS/NA/Redirect)
 * both ways, extension headers, malformed packets, outer IPv4 options, fragments
 * and bad checksums, and anything larger than the tunnel or access MTU. The inner
 * IPv6 packet is never changed: only outer headers are written or removed.
 *
 * Compiled once with `clang -O2 -g -target bpf` (arch-neutral, CO-RE free: it reads
 * only __sk_buff and packet bytes), loaded by the addon with libbpf.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV6
/* Linux 6.3: lets the kernel set skb->protocol on decapsulation (older kernels: EINVAL, we retry without). */
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif
#ifndef AF_INET
#define AF_INET 2
#endif

#define ETH_HLEN_ 14
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define GRE_HLEN_KEY 8
#define GRE_F_CSUM 0x8000
#define GRE_F_ROUTING 0x4000
#define GRE_F_KEY 0x2000
#define GRE_F_SEQ 0x1000
#define GRE_VERSION_MASK 0x0007
#define IPPROTO_IPV6_ 41
#define IPPROTO_GRE_ 47

/* ---- maps (the userspace side is src/io/kernel-datapath.ts; keep the layouts in step) ---- */

struct up_key {
  __u8 mac[6];
  __u16 pad;
};

struct up_value {
  __u32 care_of;   /* network order */
  __u32 home_agent; /* network order */
  __u32 gre_key;   /* host order, used when has_key */
  __u32 has_key;
  __u64 packets;
  __u64 bytes;
};

struct down_key {
  __u32 care_of; /* network order */
  __u32 gre_key; /* host order, 0 without key */
  __u32 has_key;
};

struct down_value {
  __u8 mn_mac[6];
  __u8 src_mac[6];
  __u32 home_agent; /* network order */
  __u64 packets;
  __u64 bytes;
};

struct fp_config {
  __u32 access_ifindex;
  __u32 uplink_ifindex;
  __u32 access_mtu;
  __u32 uplink_mtu;
  __u32 ttl;
  __u32 dont_fragment;
  __u32 enabled;
  __u32 pad;
};

/* Global counters (per CPU): why packets stayed on the slow path, and what went fast. */
enum fp_stat {
  ST_UP_FAST = 0,
  ST_UP_UNBOUND,
  ST_UP_ND,
  ST_UP_OTHER_SLOW, /* not plain IPv6, extension headers, malformed, padded */
  ST_UP_OVERSIZE,
  ST_UP_ERROR,
  ST_DOWN_FAST,
  ST_DOWN_UNBOUND,
  ST_DOWN_ND,
  ST_DOWN_OTHER_SLOW,
  ST_DOWN_OVERSIZE,
  ST_DOWN_ERROR,
  ST_UP_BYTES,   /* inner IPv6 bytes carried fast */
  ST_DOWN_BYTES,
  ST_COUNT
};

/* max_entries of the session maps are set by the loader (limits.maxSessions); no prealloc: small boards. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct up_key);
  __type(value, struct up_value);
} an_up SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct down_key);
  __type(value, struct down_value);
} an_down SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct fp_config);
} an_cfg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, ST_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} an_stats SEC(".maps");

static __always_inline void add(__u32 which, __u64 n) {
  __u64 *v = bpf_map_lookup_elem(&an_stats, &which);
  if (v) *v += n;
}

static __always_inline void count(__u32 which) { add(which, 1); }

static __always_inline struct fp_config *config(void) {
  __u32 zero = 0;
  struct fp_config *c = bpf_map_lookup_elem(&an_cfg, &zero);
  if (!c || !c->enabled) return 0;
  return c;
}

/* ND and ICMPv6 Redirect: RS 133, RA 134, NS 135, NA 136, Redirect 137. */
static __always_inline int is_nd(__u8 type) { return type >= 133 && type <= 137; }

/*
 * Whether the IPv6 next header may go fast: transport protocols only. Extension
 * headers (hop-by-hop, routing, fragment, destination options, mobility, ...) go
 * slow: the engine must see any ND behind them, and they are rare.
 */
static __always_inline int plain_next_header(__u8 nh) {
  return nh == IPPROTO_TCP || nh == IPPROTO_UDP || nh == 58 || nh == 59 /* no next header */ || nh == IPPROTO_ESP ||
         nh == IPPROTO_SCTP || nh == IPPROTO_UDPLITE;
}

static __always_inline __u16 ipv4_checksum(const __u16 *w) {
  __u32 sum = 0;
#pragma unroll
  for (int i = 0; i < IPV4_HLEN / 2; i++) sum += w[i];
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

/*
 * Makes the first `n` bytes directly readable. Frames built from a packet socket's
 * TX ring (and GSO/GRO skbs) keep only a few header bytes linear; the rest is in
 * page fragments the program cannot read in place.
 */
static __always_inline int linear(struct __sk_buff *skb, __u32 n) {
  if ((void *)(long)skb->data + n <= (void *)(long)skb->data_end) return 1;
  if (skb->len < n) return 0;
  return bpf_skb_pull_data(skb, n) == 0;
}

SEC("tc")
int an_uplink(struct __sk_buff *skb) {
  struct fp_config *c = config();
  if (!c) return TC_ACT_OK;
  if (!linear(skb, ETH_HLEN_ + IPV6_HLEN + 4)) {
    count(ST_UP_OTHER_SLOW);
    return TC_ACT_OK;
  }
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  if (data + ETH_HLEN_ + IPV6_HLEN + 4 > end) return TC_ACT_OK;
  __u8 *eth = data;
  struct up_key k = {};
  __builtin_memcpy(k.mac, eth + 6, 6);
  struct up_value *v = bpf_map_lookup_elem(&an_up, &k);
  if (!v) {
    count(ST_UP_UNBOUND);
    return TC_ACT_OK;
  }
  __u8 *ip6 = eth + ETH_HLEN_;
  if (*(__u16 *)(eth + 12) != bpf_htons(ETH_P_IPV6) || (ip6[0] >> 4) != 6 || skb->vlan_present) {
    count(ST_UP_OTHER_SLOW);
    return TC_ACT_OK;
  }
  __u8 nh = ip6[6];
  if (nh == 58 && is_nd(ip6[IPV6_HLEN])) {
    count(ST_UP_ND);
    return TC_ACT_OK;
  }
  __u32 plen = ((__u32)ip6[4] << 8) | ip6[5];
  __u32 inner = IPV6_HLEN + plen;
  /* Exactly one IPv6 packet: shorter is truncated, longer is link padding the engine trims. */
  if (!plain_next_header(nh) || skb->len != ETH_HLEN_ + inner) {
    count(ST_UP_OTHER_SLOW);
    return TC_ACT_OK;
  }
  __u32 hdr = v->has_key ? IPV4_HLEN + GRE_HLEN_KEY : IPV4_HLEN;
  if (inner + hdr > c->uplink_mtu) {
    count(ST_UP_OVERSIZE);
    return TC_ACT_OK;
  }
  __u32 care_of = v->care_of, home_agent = v->home_agent, gre_key = v->gre_key, has_key = v->has_key;
  __u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | (has_key ? BPF_F_ADJ_ROOM_ENCAP_L4_GRE : 0);
  if (bpf_skb_adjust_room(skb, hdr, BPF_ADJ_ROOM_MAC, flags)) {
    count(ST_UP_ERROR);
    return TC_ACT_OK;
  }
  data = (void *)(long)skb->data;
  end = (void *)(long)skb->data_end;
  if (data + ETH_HLEN_ + IPV4_HLEN + GRE_HLEN_KEY > end) {
    count(ST_UP_ERROR);
    return TC_ACT_SHOT; /* room was added: the frame is no longer what the slow path expects */
  }
  eth = data;
  /* The addresses are filled in by bpf_redirect_neigh (below); the type is ours. */
  *(__u16 *)(eth + 12) = bpf_htons(ETH_P_IP);
  __u8 *ip4 = eth + ETH_HLEN_;
  /* As src/wire/tunnel.ts writes it: no options, identification 0, TTL and DF from config. */
  ip4[0] = 0x45;
  ip4[1] = 0;
  *(__u16 *)(ip4 + 2) = bpf_htons(inner + hdr);
  *(__u16 *)(ip4 + 4) = 0;
  *(__u16 *)(ip4 + 6) = c->dont_fragment ? bpf_htons(0x4000) : 0;
  ip4[8] = c->ttl;
  ip4[9] = has_key ? IPPROTO_GRE_ : IPPROTO_IPV6_;
  *(__u16 *)(ip4 + 10) = 0;
  *(__u32 *)(ip4 + 12) = care_of;
  *(__u32 *)(ip4 + 16) = home_agent;
  *(__u16 *)(ip4 + 10) = ipv4_checksum((const __u16 *)ip4);
  if (has_key) {
    __u8 *g = ip4 + IPV4_HLEN;
    *(__u16 *)g = bpf_htons(GRE_F_KEY);
    *(__u16 *)(g + 2) = bpf_htons(ETH_P_IPV6);
    *(__u32 *)(g + 4) = bpf_htonl(gre_key);
  }
  __sync_fetch_and_add(&v->packets, 1);
  __sync_fetch_and_add(&v->bytes, inner);
  count(ST_UP_FAST);
  add(ST_UP_BYTES, inner);
  /*
   * The next hop's MAC from the kernel's routing and neighbour tables (Linux 5.10):
   * it follows the route to the HA (gateway or on-link), resolves a missing neighbour
   * like any output, and needs no IPv4 forwarding (bpf_fib_lookup refuses with it off).
   */
  return bpf_redirect_neigh(c->uplink_ifindex, 0, 0, 0);
}

SEC("tc")
int an_downlink(struct __sk_buff *skb) {
  struct fp_config *c = config();
  if (!c) return TC_ACT_OK;
  /* Outer IPv4 and the longest GRE header we take (with key): one pull covers both. */
  if (!linear(skb, ETH_HLEN_ + IPV4_HLEN + GRE_HLEN_KEY)) return TC_ACT_OK;
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u8 *eth = data;
  if (data + ETH_HLEN_ + IPV4_HLEN > end) return TC_ACT_OK;
  if (*(__u16 *)(eth + 12) != bpf_htons(ETH_P_IP) || skb->vlan_present) return TC_ACT_OK;
  __u8 *ip4 = eth + ETH_HLEN_;
  __u8 proto = ip4[9];
  if (proto != IPPROTO_IPV6_ && proto != IPPROTO_GRE_) return TC_ACT_OK;
  __u32 hdr = IPV4_HLEN;
  struct down_key k = {};
  k.care_of = *(__u32 *)(ip4 + 16);
  __u16 frag = bpf_ntohs(*(__u16 *)(ip4 + 6));
  __u32 tot = bpf_ntohs(*(__u16 *)(ip4 + 2));
  /* Options, fragments (MF or an offset), bad checksum, truncation or trailing bytes: the kernel and engine judge. */
  if (ip4[0] != 0x45 || (frag & 0x3fff) != 0 || ipv4_checksum((const __u16 *)ip4) != 0 || tot != skb->len - ETH_HLEN_) {
    count(ST_DOWN_OTHER_SLOW);
    return TC_ACT_OK;
  }
  if (proto == IPPROTO_GRE_) {
    if (data + ETH_HLEN_ + IPV4_HLEN + GRE_HLEN_KEY > end) {
      count(ST_DOWN_OTHER_SLOW);
      return TC_ACT_OK;
    }
    __u8 *g = ip4 + IPV4_HLEN;
    __u16 gf = bpf_ntohs(*(__u16 *)g);
    if (*(__u16 *)(g + 2) != bpf_htons(ETH_P_IPV6) || (gf & (GRE_F_CSUM | GRE_F_ROUTING | GRE_F_SEQ | GRE_VERSION_MASK)) != 0 ||
        (gf & 0x0ff8) != 0) {
      count(ST_DOWN_OTHER_SLOW);
      return TC_ACT_OK;
    }
    if (gf & GRE_F_KEY) {
      k.gre_key = bpf_ntohl(*(__u32 *)(g + 4));
      k.has_key = 1;
      hdr += GRE_HLEN_KEY;
    } else {
      hdr += 4;
    }
  }
  struct down_value *v = bpf_map_lookup_elem(&an_down, &k);
  if (!v || v->home_agent != *(__u32 *)(ip4 + 12)) {
    count(ST_DOWN_UNBOUND);
    return TC_ACT_OK;
  }
  /*
   * hdr is 20, 24 or 28: the inner header is copied out rather than reached by a
   * variable pointer offset, which the verifier refuses without CAP_PERFMON.
   */
  __u8 ip6[IPV6_HLEN + 4] __attribute__((aligned(8)));
  if (bpf_skb_load_bytes(skb, ETH_HLEN_ + hdr, ip6, sizeof ip6) || (ip6[0] >> 4) != 6) {
    count(ST_DOWN_OTHER_SLOW);
    return TC_ACT_OK;
  }
  __u8 nh = ip6[6];
  if (nh == 58 && is_nd(ip6[IPV6_HLEN])) {
    count(ST_DOWN_ND);
    return TC_ACT_OK;
  }
  __u32 inner = IPV6_HLEN + (((__u32)ip6[4] << 8) | ip6[5]);
  /* RFC 4213 3.6 sources (multicast, ::/80 prefixes incl. mapped and compatible) go slow, where they are dropped. */
  __u8 *src6 = ip6 + 8;
  __u32 w0 = *(__u32 *)src6, w1 = *(__u32 *)(src6 + 4);
  __u16 w2 = *(__u16 *)(src6 + 8);
  if (!plain_next_header(nh) || inner != tot - hdr || src6[0] == 0xff || (w0 == 0 && w1 == 0 && w2 == 0)) {
    count(ST_DOWN_OTHER_SLOW);
    return TC_ACT_OK;
  }
  if (inner > c->access_mtu) {
    count(ST_DOWN_OVERSIZE);
    return TC_ACT_OK;
  }
  __u8 dst_mac[6], src_mac[6];
  __builtin_memcpy(dst_mac, v->mn_mac, 6);
  __builtin_memcpy(src_mac, v->src_mac, 6);
  long rc = bpf_skb_adjust_room(skb, -(__s32)hdr, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_DECAP_L3_IPV6);
  if (rc == -22 /* EINVAL: kernel before 6.3, no decap flags */) rc = bpf_skb_adjust_room(skb, -(__s32)hdr, BPF_ADJ_ROOM_MAC, 0);
  if (rc) {
    count(ST_DOWN_ERROR);
    return TC_ACT_OK;
  }
  data = (void *)(long)skb->data;
  end = (void *)(long)skb->data_end;
  if (data + ETH_HLEN_ > end) {
    count(ST_DOWN_ERROR);
    return TC_ACT_SHOT;
  }
  eth = data;
  __builtin_memcpy(eth, dst_mac, 6);
  __builtin_memcpy(eth + 6, src_mac, 6);
  *(__u16 *)(eth + 12) = bpf_htons(ETH_P_IPV6);
  __sync_fetch_and_add(&v->packets, 1);
  __sync_fetch_and_add(&v->bytes, inner);
  count(ST_DOWN_FAST);
  add(ST_DOWN_BYTES, inner);
  return bpf_redirect(c->access_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
