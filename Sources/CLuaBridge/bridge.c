#include "CLuaBridge.h"

#include <string.h>

static nslua_dispatch_fn g_dispatch = NULL;
static nslua_release_fn g_release = NULL;

static const char *const BOX_META = "nslua.SwiftFunction";

void nslua_set_callbacks(nslua_dispatch_fn dispatch, nslua_release_fn release) {
    g_dispatch = dispatch;
    g_release = release;
}

/* The one C function every Swift function is called through. */
static int trampoline(lua_State *L) {
    void **slot = (void **)lua_touserdata(L, lua_upvalueindex(1));
    if (slot == NULL || *slot == NULL || g_dispatch == NULL)
        return luaL_error(L, "nslua: Swift function called after it was released");
    int n = g_dispatch(L, *slot);
    if (n < 0)
        return lua_error(L); /* the Swift frame has returned: raising is safe */
    return n;
}

static int box_gc(lua_State *L) {
    void **slot = (void **)lua_touserdata(L, 1);
    if (slot != NULL && *slot != NULL) {
        void *box = *slot;
        *slot = NULL;
        if (g_release != NULL) g_release(box);
    }
    return 0;
}

void nslua_pushswiftfunction(lua_State *L, void *box) {
    void **slot = (void **)lua_newuserdatauv(L, sizeof(void *), 0);
    *slot = box;
    if (luaL_newmetatable(L, BOX_META)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_pushcclosure(L, trampoline, 1);
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

/* ---- protected calls with Ctrl-C, as lua.c ------------------------------------ */

static lua_State *volatile g_running = NULL;
static volatile sig_atomic_t g_interrupt = 0;
static const char *volatile g_interrupt_msg = "interrupted!";

static void lstop(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "%s", g_interrupt_msg);
}

static void set_hook(lua_State *L) {
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    lua_sethook(L, lstop, flag, 1);
}

static void laction(int sig) {
    signal(sig, SIG_DFL); /* a second Ctrl-C kills, as in lua.c */
    g_interrupt = 1;
    g_interrupt_msg = "interrupted!";
    if (g_running != NULL) set_hook(g_running);
}

void nslua_interrupt(lua_State *L, const char *msg) {
    g_interrupt = 1;
    g_interrupt_msg = msg;
    set_hook(L);
}

int nslua_interrupt_pending(void) { return g_interrupt != 0; }

/* SIGTERM and SIGHUP: like Ctrl-C, the running Lua code is stopped with an
 * error (so that the lab is torn down on the way out), and the signal is
 * remembered so that the program exits with 128 + signal. */
static volatile sig_atomic_t g_terminate = 0;

static void on_terminate(int sig) {
    g_terminate = sig;
    g_interrupt = 1;
    g_interrupt_msg = sig == SIGTERM ? "terminated (SIGTERM)" : "hangup (SIGHUP)";
    if (g_running != NULL) set_hook(g_running);
}

void nslua_install_terminate_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_terminate;   /* no SA_RESTART: blocking calls return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int nslua_terminate_signal(void) { return (int)g_terminate; }

void nslua_block_signals(int block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}
void nslua_clear_interrupt(void) { g_interrupt = 0; }

static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        /* Non-string error objects without __tostring are passed through. */
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
    lua_State *previous = g_running;
    g_running = L;
    void (*old)(int) = signal(SIGINT, laction);
    int status = lua_pcall(L, narg, nres, base);
    signal(SIGINT, old == SIG_ERR ? SIG_DFL : old);
    g_running = previous;
    g_interrupt = 0;
    lua_remove(L, base);
    return status;
}

/* ---- Swift objects as userdata --------------------------------------------------- */

static const char OBJECT_TAG = 'o';

void nslua_pushobject(lua_State *L, void *obj, const char *metaname) {
    void **slot = (void **)lua_newuserdatauv(L, sizeof(void *), 0);
    *slot = obj;
    luaL_setmetatable(L, metaname);
}

void *nslua_toobject(lua_State *L, int idx, const char *metaname) {
    void **slot = (void **)luaL_testudata(L, idx, metaname);
    return slot ? *slot : NULL;
}

void *nslua_anyobject(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
    lua_pushlightuserdata(L, (void *)&OBJECT_TAG);
    int tagged = lua_rawget(L, -2) == LUA_TBOOLEAN;
    lua_pop(L, 2);
    if (!tagged) return NULL;
    void **slot = (void **)lua_touserdata(L, idx);
    return slot ? *slot : NULL;
}

/* Marks a metatable (on top of the stack) as an nslua object class. */
void nslua_tagmetatable(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&OBJECT_TAG);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pushcfunction(L, nslua_object_gc);
    lua_setfield(L, -2, "__gc");
}

int nslua_object_gc(lua_State *L) {
    void **slot = (void **)lua_touserdata(L, 1);
    if (slot != NULL && *slot != NULL) {
        void *obj = *slot;
        *slot = NULL;
        if (g_release != NULL) g_release(obj);
    }
    return 0;
}

/* ---- Ctrl-C at the REPL prompt ------------------------------------------------- */

static volatile sig_atomic_t g_prompt_sigint = 0;
static struct sigaction g_prompt_old;

static void prompt_sigint(int sig) {
    (void)sig;
    g_prompt_sigint = 1;
}

void nslua_prompt_sigint_begin(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prompt_sigint; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    g_prompt_sigint = 0;
    sigaction(SIGINT, &sa, &g_prompt_old);
}

void nslua_prompt_sigint_end(void) {
    sigaction(SIGINT, &g_prompt_old, NULL);
}

int nslua_prompt_sigint_take(void) {
    int caught = g_prompt_sigint != 0;
    g_prompt_sigint = 0;
    return caught;
}
