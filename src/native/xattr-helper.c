/*
 * rdxattr: reads and writes every extended attribute of a file, POSIX ACLs
 * included (they are the system.posix_acl_* attributes), for rdrescue, whose
 * Node runtime has no xattr API. It runs where nothing else may exist (the
 * rd.break shell of an initramfs: no libc to link against is assumed, no
 * getfattr, no python), so it is freestanding: raw system calls, no libc,
 * a few KiB, the same binary on any Linux of its architecture.
 *
 *   rdxattr get PATH   prints "NAME HEX" per attribute, one a line
 *   rdxattr set PATH   makes PATH's attributes exactly the "NAME HEX" lines
 *                      read from stdin (others are removed); ACL last, so
 *                      the mask it carries decides the group bits
 *   rdxattr add PATH   sets those lines and leaves the others (a new file
 *                      keeps the ACL its directory's default gave it)
 *
 * Links are never followed (the l* calls). Errors: one line per failure on
 * stderr, "rdxattr: OP PATH: [NAME: ]MESSAGE", exit 1; `set` goes on past a
 * failing attribute so the caller learns every one that did not take.
 */
#if defined(__x86_64__)
#define SYS_read 0
#define SYS_write 1
#define SYS_lsetxattr 189
#define SYS_lgetxattr 192
#define SYS_llistxattr 195
#define SYS_lremovexattr 198
#define SYS_exit_group 231
static long sys(long n, long a, long b, long c, long d, long e) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return r;
}
__asm__(".text\n.global _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n call cmain\n hlt\n");
#elif defined(__aarch64__)
#define SYS_read 63
#define SYS_write 64
#define SYS_lsetxattr 6
#define SYS_lgetxattr 9
#define SYS_llistxattr 12
#define SYS_lremovexattr 15
#define SYS_exit_group 94
static long sys(long n, long a, long b, long c, long d, long e) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
__asm__(".text\n.global _start\n_start:\n mov x29, #0\n mov x0, sp\n bl cmain\n");
#else
#error "rdxattr: no system call table for this architecture"
#endif

/* XATTR_LIST_MAX and XATTR_SIZE_MAX of the kernel: nothing larger can exist. */
#define LIST_MAX 65536
#define SIZE_MAX_ 65536
#define ACL_ACCESS "system.posix_acl_access"
static char list[LIST_MAX];
static char value[SIZE_MAX_];
static char input[4 * 1024 * 1024];
static char out[4096];
static long outlen;
static int failed;

static long len(const char *s) {
  long n = 0;
  while (s[n]) n++;
  return n;
}
static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}
static void flush(int fd) {
  long off = 0;
  while (off < outlen) {
    long w = sys(SYS_write, fd, (long)(out + off), outlen - off, 0, 0);
    if (w <= 0) break;
    off += w;
  }
  outlen = 0;
}
static void put(int fd, const char *s, long n) {
  for (long i = 0; i < n; i++) {
    if (outlen == sizeof out) flush(fd);
    out[outlen++] = s[i];
  }
}
static void puts_(int fd, const char *s) { put(fd, s, len(s)); }

static const char *message(long err) {
  switch (err) {
    case 1: return "Operation not permitted";
    case 2: return "No such file or directory";
    case 5: return "Input/output error";
    case 7: return "Argument list too long";
    case 13: return "Permission denied";
    case 20: return "Not a directory";
    case 22: return "Invalid argument";
    case 28: return "No space left on device";
    case 30: return "Read-only file system";
    case 34: return "Numerical result out of range";
    case 36: return "File name too long";
    case 61: return "No data available";
    case 95: return "Operation not supported";
    case 122: return "Disk quota exceeded";
    default: return "unknown error";
  }
}
static void fail(const char *op, const char *path, const char *name, long err) {
  static const char digits[] = "0123456789";
  char num[24];
  int n = 0;
  outlen = 0;
  puts_(2, "rdxattr: ");
  puts_(2, op);
  puts_(2, " ");
  puts_(2, path);
  puts_(2, ": ");
  if (name) puts_(2, name), puts_(2, ": ");
  puts_(2, message(-err));
  puts_(2, " (errno ");
  for (long e = -err; e || !n; e /= 10) num[n++] = digits[e % 10];
  while (n) put(2, &num[--n], 1);
  puts_(2, ")\n");
  flush(2);
  failed = 1;
}

static int get(const char *path) {
  static const char hex[] = "0123456789abcdef";
  long n = sys(SYS_llistxattr, (long)path, (long)list, sizeof list, 0, 0);
  if (n < 0) return fail("get", path, 0, n), 1;
  for (long i = 0; i < n; i += len(list + i) + 1) {
    const char *name = list + i;
    long v = sys(SYS_lgetxattr, (long)path, (long)name, (long)value, sizeof value, 0);
    if (v == -61) continue; /* removed between the two calls */
    if (v < 0) return fail("get", path, name, v), 1;
    puts_(1, name);
    put(1, " ", 1);
    for (long j = 0; j < v; j++) put(1, &hex[(unsigned char)value[j] >> 4], 1), put(1, &hex[value[j] & 15], 1);
    put(1, "\n", 1);
  }
  flush(1);
  return 0;
}

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Lines of input as (name, hex) pairs, cut in place; returns the count or -1. */
static char *names[4096];
static char *values[4096];
static long sizes[4096];
static long parse(long n) {
  long count = 0;
  for (long i = 0; i < n;) {
    long end = i;
    while (end < n && input[end] != '\n') end++;
    if (end == n) return -1; /* every line ends with a newline */
    input[end] = 0;
    long sp = i;
    while (input[sp] && input[sp] != ' ') sp++;
    if (!input[sp] || count == 4096) return -1;
    input[sp] = 0;
    long hl = end - sp - 1;
    if (hl % 2 || hl / 2 > SIZE_MAX_) return -1;
    char *v = input + sp + 1;
    for (long j = 0; j < hl / 2; j++) {
      int hi = nibble(v[2 * j]), lo = nibble(v[2 * j + 1]);
      if (hi < 0 || lo < 0) return -1;
      v[j] = (char)(hi << 4 | lo); /* decoded in place: the bytes are behind the digits */
    }
    names[count] = input + i;
    values[count] = v;
    sizes[count] = hl / 2;
    count++;
    i = end + 1;
  }
  return count;
}

static int set(const char *path, int exact) {
  long n = 0, r;
  while ((r = sys(SYS_read, 0, (long)(input + n), sizeof input - n, 0, 0)) > 0) n += r;
  if (r < 0 || n == sizeof input) return fail("set", path, "standard input", r < 0 ? r : -7), 1;
  long count = parse(n);
  if (count < 0) return fail("set", path, "standard input", -22), 1;
  long l = exact ? sys(SYS_llistxattr, (long)path, (long)list, sizeof list, 0, 0) : 0;
  if (l < 0) return fail("set", path, 0, l), 1;
  for (long i = 0; i < l; i += len(list + i) + 1) {
    int keep = 0;
    for (long k = 0; k < count && !keep; k++) keep = same(names[k], list + i);
    if (keep) continue;
    r = sys(SYS_lremovexattr, (long)path, (long)(list + i), 0, 0, 0);
    if (r < 0 && r != -61) fail("set", path, list + i, r);
  }
  for (int acl = 0; acl < 2; acl++)
    for (long k = 0; k < count; k++) {
      if (same(names[k], ACL_ACCESS) != acl) continue;
      r = sys(SYS_lsetxattr, (long)path, (long)names[k], (long)values[k], sizes[k], 0);
      if (r < 0) fail("set", path, names[k], r);
    }
  return failed;
}

int cmain(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  int rc = 2;
  if (argc == 3 && same(argv[1], "get")) rc = get(argv[2]);
  else if (argc == 3 && same(argv[1], "set")) rc = set(argv[2], 1);
  else if (argc == 3 && same(argv[1], "add")) rc = set(argv[2], 0);
  else puts_(2, "usage: rdxattr get|set|add PATH\n"), flush(2);
  sys(SYS_exit_group, rc, 0, 0, 0, 0);
  return rc;
}
