#define _GNU_SOURCE
#include "CLuaBridge.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static nslua_dispatch_fn g_dispatch = NULL;
static nslua_release_fn g_release = NULL;

void nslua_set_callbacks(nslua_dispatch_fn dispatch, nslua_release_fn release) {
    g_dispatch = dispatch;
    g_release = release;
}

/* ---- Swift references in userdata -------------------------------------------------- */

/* Tags: only their addresses matter. A userdata is ours when it holds exactly
 * one pointer and its first user value is one of these (Lua code cannot make
 * a light userdata, and other libraries' userdata have no such user value). */
static const char FUNCTION_TAG = 'f';
static const char OBJECT_TAG = 'o';
static const char *const FUNCTION_META = "nslua.SwiftFunction";

static void **push_slot(lua_State *L, void *ref, const void *tag) {
    void **slot = (void **)lua_newuserdatauv(L, sizeof(void *), 1);
    *slot = ref;
    lua_pushlightuserdata(L, (void *)tag);
    lua_setiuservalue(L, -2, 1);
    return slot;
}

static void **slot_at(lua_State *L, int idx, const void *tag) {
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(void *)) return NULL;
    int type = lua_getiuservalue(L, idx, 1);
    int ours = type == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == tag;
    lua_pop(L, 1);
    return ours ? (void **)lua_touserdata(L, idx) : NULL;
}

/* __gc of every nslua userdata: drops Swift's reference once. Never raises. */
static int release_gc(lua_State *L) {
    void **slot = slot_at(L, 1, &OBJECT_TAG);
    if (slot == NULL) slot = slot_at(L, 1, &FUNCTION_TAG);
    if (slot != NULL && *slot != NULL) {
        void *ref = *slot;
        *slot = NULL;
        if (g_release != NULL) g_release(ref);
    }
    return 0;
}

/* The one C function every Swift function is called through. */
static int trampoline(lua_State *L) {
    void **slot = slot_at(L, lua_upvalueindex(1), &FUNCTION_TAG);
    if (slot == NULL || *slot == NULL || g_dispatch == NULL)
        return luaL_error(L, "nslua: Swift function called after it was released");
    int n = g_dispatch(L, *slot);
    if (n < 0)
        return lua_error(L); /* the Swift frame has returned: raising is safe */
    return n;
}

void nslua_pushswiftfunction(lua_State *L, void *box) {
    push_slot(L, box, &FUNCTION_TAG);
    if (luaL_newmetatable(L, FUNCTION_META)) {
        lua_pushcfunction(L, release_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_pushcclosure(L, trampoline, 1);
}

void nslua_pushobject(lua_State *L, void *obj, const char *metaname) {
    push_slot(L, obj, &OBJECT_TAG);
    luaL_setmetatable(L, metaname);
}

void *nslua_toobject(lua_State *L, int idx, const char *metaname) {
    void **slot = slot_at(L, idx, &OBJECT_TAG);
    if (slot == NULL || !lua_getmetatable(L, idx)) return NULL;
    luaL_getmetatable(L, metaname);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? *slot : NULL;
}

void *nslua_anyobject(lua_State *L, int idx) {
    void **slot = slot_at(L, idx, &OBJECT_TAG);
    return slot ? *slot : NULL;
}

void nslua_tagmetatable(lua_State *L) {
    lua_pushcfunction(L, release_gc);
    lua_setfield(L, -2, "__gc");
}

/* ---- error objects ------------------------------------------------------------------ */

static const char *const ERROR_META = "nslua.Error";

static void push_message(lua_State *L, int idx) {
    lua_pushliteral(L, "message");
    lua_rawget(L, idx);
}

static int error_tostring(lua_State *L) {
    push_message(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) lua_pushliteral(L, "error");
    return 1;
}

/* err:find(...), err:match(...): string methods applied to the message. */
static int error_method(lua_State *L) {
    push_message(L, 1);
    lua_replace(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int error_index(lua_State *L) {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    lua_pushliteral(L, "");
    if (luaL_getmetafield(L, -1, "__index") != LUA_TTABLE) return 0;   /* the string library */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TFUNCTION) return 0;
    lua_pushcclosure(L, error_method, 1);
    return 1;
}

static int error_concat(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    luaL_tolstring(L, 2, NULL);
    lua_concat(L, 2);
    return 1;
}

static int error_len(lua_State *L) {
    push_message(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

void nslua_pusherror(lua_State *L, const char *message, size_t len, const char *kind) {
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, message, len);
    lua_setfield(L, -2, "message");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    if (luaL_newmetatable(L, ERROR_META)) {
        const luaL_Reg methods[] = {
            {"__tostring", error_tostring}, {"__index", error_index},
            {"__concat", error_concat}, {"__len", error_len}, {NULL, NULL},
        };
        luaL_setfuncs(L, methods, 0);
    }
    lua_setmetatable(L, -2);
}

int nslua_iserror(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, ERROR_META);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

void nslua_where(lua_State *L, int level) {
    luaL_where(L, level);
}

/* The function at the top of the stack as a global ("print") or a field of a
 * global table ("net.veth", "string.rep"), as lauxlib's pushglobalfuncname
 * names functions called without a name (through pcall, say). Pushes the name
 * and returns 1, or returns 0 and pushes nothing. Uses raw access only. */
static int push_global_name(lua_State *L) {
    int fn = lua_gettop(L);
    lua_pushglobaltable(L);
    /* First pass: a global itself. */
    lua_pushnil(L);
    while (lua_next(L, fn + 1) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
            lua_pop(L, 1);
            lua_replace(L, fn + 1);   /* the key, in place of the global table */
            return 1;
        }
        lua_pop(L, 1);
    }
    /* Second pass: a field of a global table (not through _G itself). */
    lua_pushnil(L);
    while (lua_next(L, fn + 1) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE &&
            strcmp(lua_tostring(L, -2), "_G") != 0) {
            lua_pushnil(L);
            while (lua_next(L, -2) != 0) {
                if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
                    lua_pushfstring(L, "%s.%s", lua_tostring(L, -4), lua_tostring(L, -2));
                    lua_replace(L, fn + 1);
                    lua_settop(L, fn + 1);
                    return 1;
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, fn);
    return 0;
}

/* Same text as lauxlib's luaL_argerror, pushed instead of raised. */
void nslua_pushargerror(lua_State *L, int arg, const char *extramsg, const char *fallback) {
    lua_Debug ar;
    if (!lua_getstack(L, 0, &ar)) {
        lua_pushfstring(L, "bad argument #%d (%s)", arg, extramsg);
        return;
    }
    lua_getinfo(L, "nf", &ar);   /* pushes the running function */
    int named = 0;
    if (ar.name == NULL && push_global_name(L)) {
        ar.name = lua_tostring(L, -1);
        named = 1;
    }
    if (ar.name == NULL) ar.name = fallback;
    /* keep the name string (or the function) below the message; drop it after */
    int extra = 1 + named;
    if (ar.namewhat != NULL && strcmp(ar.namewhat, "method") == 0) {
        arg--;
        if (arg == 0) {
            luaL_where(L, 1);
            lua_pushfstring(L, "calling '%s' on bad self (%s)", ar.name ? ar.name : "?", extramsg);
            lua_concat(L, 2);
            lua_rotate(L, -(extra + 1), 1);
            lua_pop(L, extra);
            return;
        }
    }
    luaL_where(L, 1);
    lua_pushfstring(L, "bad argument #%d to '%s' (%s)", arg, ar.name ? ar.name : "?", extramsg);
    lua_concat(L, 2);
    lua_rotate(L, -(extra + 1), 1);
    lua_pop(L, extra);
}

static int msghandler(lua_State *L) {
    if (nslua_iserror(L, 1)) {
        push_message(L, 1);
        const char *msg = lua_tostring(L, -1);
        luaL_traceback(L, L, msg ? msg : "error", 1);
        lua_setfield(L, 1, "traceback");
        lua_settop(L, 1);
        return 1;
    }
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        /* Non-string error values without __tostring are passed through. */
        lua_settop(L, 1);
        return 1;
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int nslua_docall(lua_State *L, int narg, int nres) {
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

/* ---- signals ------------------------------------------------------------------------ */

static atomic_int g_pending = 0;
static atomic_int g_unhandled_interrupts = 0;
static volatile sig_atomic_t g_terminate = 0;
static volatile sig_atomic_t g_exit_now = 0;
static int g_watchdog_pipe[2] = { -1, -1 };
static double g_grace = 5;
static void (*g_on_stuck)(int) = NULL;

static void on_signal(int sig) {
    if (g_exit_now) _exit(128 + sig);
    if (sig == SIGINT) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&g_pending, &expected, SIGINT)) return;
        /* Ctrl-C again while an earlier one is still unhandled: something is
         * stuck outside Lua. The third one kills, as a second one does in lua.c. */
        if (atomic_fetch_add(&g_unhandled_interrupts, 1) + 1 >= 2) {
            static const char msg[] = "\nnslua: killed by Ctrl-C; `nslua --clean` removes what this run left\n";
            (void)!write(2, msg, sizeof msg - 1);
            signal(SIGINT, SIG_DFL);
            raise(SIGINT);
        }
        return;
    }
    int first = g_terminate == 0;
    g_terminate = sig;
    atomic_store(&g_pending, sig);   /* termination takes precedence over an interrupt */
    if (first && g_watchdog_pipe[1] >= 0) (void)!write(g_watchdog_pipe[1], "t", 1);
}

/* Wakes on the first SIGTERM/SIGHUP; if the process is still there `grace`
 * seconds later, the script did not end: on_stuck tears down and exits. */
static void *watchdog(void *arg) {
    (void)arg;
    char c;
    while (read(g_watchdog_pipe[0], &c, 1) < 0 && errno == EINTR) {}
    struct timespec ts = { (time_t)g_grace, (long)((g_grace - (double)(time_t)g_grace) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    if (g_on_stuck) g_on_stuck((int)g_terminate);
    return NULL;
}

void nslua_signals_install(double grace, void (*on_stuck)(int sig)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;   /* no SA_RESTART: blocking calls return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGHUP);
    g_grace = grace;
    g_on_stuck = on_stuck;
    if (on_stuck && g_watchdog_pipe[0] < 0 && pipe2(g_watchdog_pipe, O_CLOEXEC) == 0) {
        /* The watchdog takes no signals: they interrupt the main thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t t;
        if (pthread_create(&t, NULL, watchdog, NULL) == 0) pthread_detach(t);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int nslua_signal_pending(void) { return atomic_load(&g_pending); }

int nslua_signal_take(void) {
    if (g_terminate) return (int)g_terminate;   /* stays: the script must end */
    int sig = atomic_exchange(&g_pending, 0);
    if (sig != 0) atomic_store(&g_unhandled_interrupts, 0);
    return sig;
}

void nslua_signals_exit_now(void) { g_exit_now = 1; }

int nslua_terminate_signal(void) { return (int)g_terminate; }

const char *nslua_signal_message(int sig) {
    switch (sig) {
    case SIGTERM: return "terminated (SIGTERM)";
    case SIGHUP: return "hangup (SIGHUP)";
    default: return "interrupted!";
    }
}

void nslua_block_signals(int block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* Runs every 1000 VM instructions in every coroutine: raises the pending
 * signal's error in whatever Lua code is running. */
static void interrupt_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    int sig = nslua_signal_take();
    if (sig == 0) return;
    /* Terminating: from now on at every instruction, so that code catching
     * the error (pcall in a loop) meets it again as soon as it is outside. */
    if (g_terminate) lua_sethook(L, interrupt_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, 1);
    lua_pushstring(L, nslua_signal_message(sig));
    lua_concat(L, 2);
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    nslua_pusherror(L, msg, len, "interrupted");
    lua_error(L);
}

void nslua_sethook(lua_State *L) {
    lua_sethook(L, interrupt_hook, LUA_MASKCOUNT, 1000);
}

void nslua_checkhook(lua_State *L) {
    if (lua_gethook(L) != interrupt_hook) lua_sethook(L, interrupt_hook, LUA_MASKCOUNT, g_terminate ? 1 : 1000);
}
