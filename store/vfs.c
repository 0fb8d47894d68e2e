/*
 * vfs.c — the SQLite VFS shim every store opens its database through ("qs-vfs",
 * wrapping the default VFS). It does two things:
 *
 * - An existing write-ahead log is opened without SQLITE_OPEN_CREATE. The unix
 *   VFS marks every journal opened with CREATE for a directory fsync at its
 *   first sync, so that a new file's name is durable; for a log that already
 *   exists (the store keeps a small one across processes, see store.c) that
 *   second flush would double the cost of a one-record `qianshou add`. The
 *   process that creates the log still syncs the directory. The window left:
 *   a log created by another process that has not yet synced it, written and
 *   committed here, then a power cut before that process's first sync — on a
 *   journalling file system the commit's fdatasync makes the name durable too.
 * - A frame of the write-ahead log goes to the kernel in one write, not two:
 *   SQLite writes each frame's 24-byte header and then its page at the next
 *   offset; the header is held back until that page comes (or any other call
 *   on the file) and both go in one pwrite. Half the system calls of a commit
 *   (an aggregator applying a backlog spent a seventh of its store thread in
 *   pwrite). Nothing else is ever held: the page write follows the header at
 *   once in SQLite, so no reader can see a frame whose header is not written.
 * - Disk full on demand for the fault tests: when QIANSHOU_TEST_DISKFULL names
 *   a file, every write and truncate fails with SQLITE_FULL while that file
 *   exists — what a full disk looks like to SQLite. Tests create and remove
 *   the file to start and end the fault, in a running daemon too.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/testhook.h"
#include "store/internal.h"

#define WAL_FRAME_HDR 24

typedef struct ffile {
    sqlite3_file base;  /* must be first */
    sqlite3_file *real; /* follows this struct in the same allocation */
    bool wal;
    bool held; /* a frame header waits for its page */
    sqlite3_int64 held_off;
    uint8_t *frame; /* header + page, for the one write */
    size_t frame_cap;
} ffile;

static sqlite3_vfs *real_vfs;
/* Read at each open, so a test may set the variable after the first store. */
static const char *_Atomic flag_path;

static bool full(void)
{
    return flag_path && access(flag_path, F_OK) == 0;
}

#define REAL(f) (((ffile *)(f))->real)

/* Write a held frame header on its own (something other than its page came). */
static int release(sqlite3_file *f)
{
    ffile *ff = (ffile *)f;
    if (!ff->held)
        return SQLITE_OK;
    ff->held = false;
    return REAL(f)->pMethods->xWrite(REAL(f), ff->frame, WAL_FRAME_HDR, ff->held_off);
}

static int f_close(sqlite3_file *f)
{
    ffile *ff = (ffile *)f;
    int rc = release(f);
    int rc2 = REAL(f)->pMethods->xClose(REAL(f));
    free(ff->frame);
    ff->frame = NULL;
    return rc ? rc : rc2;
}
static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    int rc = release(f);
    return rc ? rc : REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    ffile *ff = (ffile *)f;
    if (full())
        return SQLITE_FULL;
    if (ff->held && off == ff->held_off + WAL_FRAME_HDR) {
        size_t need = WAL_FRAME_HDR + (size_t)n;
        if (need > ff->frame_cap) {
            uint8_t *b = realloc(ff->frame, need);
            if (!b)
                return release(f) ? SQLITE_IOERR_WRITE
                                  : REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
            ff->frame = b;
            ff->frame_cap = need;
        }
        memcpy(ff->frame + WAL_FRAME_HDR, p, (size_t)n);
        ff->held = false;
        return REAL(f)->pMethods->xWrite(REAL(f), ff->frame, (int)need, ff->held_off);
    }
    int rc = release(f);
    if (rc)
        return rc;
    if (ff->wal && n == WAL_FRAME_HDR) {
        if (ff->frame_cap < WAL_FRAME_HDR) {
            uint8_t *b = realloc(ff->frame, 4096 + WAL_FRAME_HDR);
            if (!b)
                return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
            ff->frame = b;
            ff->frame_cap = 4096 + WAL_FRAME_HDR;
        }
        memcpy(ff->frame, p, WAL_FRAME_HDR);
        ff->held = true;
        ff->held_off = off;
        return SQLITE_OK;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (full())
        return SQLITE_FULL;
    int rc = release(f);
    return rc ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    int rc = release(f);
    return rc ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = release(f);
    return rc ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int f_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
    int rc = release(f);
    return rc ? rc : REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shmmap(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shmbarrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shmunmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods methods = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check,
    .xFileControl = f_fcntl,
    .xSectorSize = f_sector,
    .xDeviceCharacteristics = f_devchar,
    .xShmMap = f_shmmap,
    .xShmLock = f_shmlock,
    .xShmBarrier = f_shmbarrier,
    .xShmUnmap = f_shmunmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    ffile *ff = (ffile *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    ff->wal = (flags & SQLITE_OPEN_WAL) != 0;
    ff->held = false;
    ff->frame = NULL;
    ff->frame_cap = 0;
    int rc = SQLITE_CANTOPEN;
    if ((flags & SQLITE_OPEN_WAL) && (flags & SQLITE_OPEN_CREATE) && name &&
        access(name, F_OK) == 0)
        rc = real_vfs->xOpen(real_vfs, name, ff->real, flags & ~SQLITE_OPEN_CREATE, out);
    if (rc != SQLITE_OK) /* new, or gone since access() */
        rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
    /* SQLite calls xClose only when pMethods is set. */
    f->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &methods : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *v, const char *n, int sync)
{
    return real_vfs->xDelete(real_vfs, n, sync);
}
static int v_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
    return real_vfs->xAccess(real_vfs, n, flags, out);
}
static int v_fullpath(sqlite3_vfs *v, const char *n, int len, char *out)
{
    return real_vfs->xFullPathname(real_vfs, n, len, out);
}
static void *v_dlopen(sqlite3_vfs *v, const char *n)
{
    return real_vfs->xDlOpen(real_vfs, n);
}
static void v_dlerror(sqlite3_vfs *v, int n, char *out)
{
    real_vfs->xDlError(real_vfs, n, out);
}
static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *s))(void)
{
    return real_vfs->xDlSym(real_vfs, h, s);
}
static void v_dlclose(sqlite3_vfs *v, void *h)
{
    real_vfs->xDlClose(real_vfs, h);
}
static int v_random(sqlite3_vfs *v, int n, char *out)
{
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int v_sleep(sqlite3_vfs *v, int us)
{
    return real_vfs->xSleep(real_vfs, us);
}
static int v_time(sqlite3_vfs *v, double *out)
{
    return real_vfs->xCurrentTime(real_vfs, out);
}
static int v_lasterr(sqlite3_vfs *v, int n, char *out)
{
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs qs_vfs = {
    .iVersion = 2,
    .zName = "qs-vfs",
    .xOpen = v_open,
    .xDelete = v_delete,
    .xAccess = v_access,
    .xFullPathname = v_fullpath,
    .xDlOpen = v_dlopen,
    .xDlError = v_dlerror,
    .xDlSym = v_dlsym,
    .xDlClose = v_dlclose,
    .xRandomness = v_random,
    .xSleep = v_sleep,
    .xCurrentTime = v_time,
    .xGetLastError = v_lasterr,
    .xCurrentTimeInt64 = v_time64,
};

static const char *vfs_name;

static void vfs_register(void)
{
    /* Process-wide settings, before anything initialises SQLite. Its memory
     * statistics take a global mutex on every allocation, a cost on an
     * aggregator's store thread while it applies a backlog; nothing here
     * reads them. Fails harmlessly if the program used SQLite already. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs)
        return;
    qs_vfs.szOsFile = (int)sizeof(ffile) + real_vfs->szOsFile;
    qs_vfs.mxPathname = real_vfs->mxPathname;
    if (sqlite3_vfs_register(&qs_vfs, 0) == SQLITE_OK)
        vfs_name = qs_vfs.zName;
}

const char *qs__vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, vfs_register);
    const char *flag = qs_testhook_env(QS_HOOK_DISKFULL);
    if (flag && *flag)
        flag_path = flag;
    return vfs_name; /* NULL (the default VFS) if registering failed */
}
