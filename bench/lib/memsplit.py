#!/usr/bin/env python3
"""Splits a process's resident memory by who holds it, from /proc/PID/smaps.

Usage: memsplit.py PID  ->  one line: "rss=.. jemalloc=.. glibc_heap=..
glibc_arenas=.. stacks=.. files=.. other=.." (MiB).

How each mapping is told apart (Lanyard's binary uses jemalloc for Rust
allocations; C code, i.e. SQLite, allocates through glibc's malloc unless
the allocator is built unprefixed):
- glibc_heap: `[heap]`, glibc's main arena (brk);
- glibc_arenas: glibc's per-thread arenas: an anonymous mapping starting on
  a 64 MiB boundary whose reservation (itself plus a following PROT_NONE
  mapping) is exactly 64 MiB (glibc's HEAP_MAX_SIZE on 64-bit);
- stacks: `[stack]` and anonymous read-write mappings right after a
  PROT_NONE guard of at most 64 KiB (thread stacks);
- files: file-backed mappings (the binary, libraries);
- jemalloc: every other anonymous mapping (jemalloc maps its own extents).
"""
import sys

ARENA = 64 << 20


def mappings(pid):
    out, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                cur = {"lo": lo, "hi": hi, "perm": head[1], "inode": head[4],
                       "name": head[5] if len(head) > 5 else "", "rss": 0}
                out.append(cur)
            elif head[0] == "Rss:":
                cur["rss"] = int(head[1])
    return out


def split(pid):
    maps = mappings(pid)
    kinds = dict.fromkeys(
        ["jemalloc", "glibc_heap", "glibc_arenas", "stacks", "files", "other"], 0)
    for i, m in enumerate(maps):
        anon = m["inode"] == "0" and not m["name"]
        nxt = maps[i + 1] if i + 1 < len(maps) else None
        prev = maps[i - 1] if i else None
        if m["name"] == "[heap]":
            kind = "glibc_heap"
        elif m["name"] == "[stack]":
            kind = "stacks"
        elif m["inode"] != "0":
            kind = "files"
        elif not anon:
            kind = "other"  # [vdso], [vvar] and the like
        elif m["lo"] % ARENA == 0 and (
            m["hi"] - m["lo"] == ARENA
            or (nxt and nxt["lo"] == m["hi"] and nxt["perm"].startswith("---")
                and nxt["hi"] - m["lo"] == ARENA)):
            kind = "glibc_arenas"
        elif (prev and prev["hi"] == m["lo"] and prev["perm"].startswith("---")
              and prev["hi"] - prev["lo"] <= 64 << 10 and m["perm"].startswith("rw")):
            kind = "stacks"
        else:
            kind = "jemalloc"
        kinds[kind] += m["rss"]
    total = sum(kinds.values())
    return "rss=%.1f " % (total / 1024) + " ".join(
        "%s=%.1f" % (k, v / 1024) for k, v in kinds.items())


if __name__ == "__main__":
    print(split(sys.argv[1]))
