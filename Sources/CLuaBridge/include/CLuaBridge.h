// CLuaBridge: the C side of nslua's Lua binding.
//
// Lua raises errors with longjmp. Swift frames must never be jumped over, so
// every Swift function that Lua calls goes through one C trampoline: the
// Swift side pushes an error value and returns NSLUA_ERROR, and the
// trampoline raises only once the Swift frame has returned. Lua's function-
// like macros are re-exported as static inline functions Swift can call.
#ifndef NSLUA_CLUABRIDGE_H
#define NSLUA_CLUABRIDGE_H

#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>

/// Returned by a Swift function (through the dispatcher) when it has pushed an
/// error value that the trampoline must raise.
#define NSLUA_ERROR (-1)

/// Called by the trampoline with the Swift function's box. Returns the number
/// of results, or NSLUA_ERROR with the error value on top of the stack.
typedef int (*nslua_dispatch_fn)(lua_State *L, void *box);
/// Drops Swift's reference to a box or an object (from __gc). Never raises.
typedef void (*nslua_release_fn)(void *ref);

/// Installs the Swift dispatcher and releaser (once per process).
void nslua_set_callbacks(nslua_dispatch_fn dispatch, nslua_release_fn release);

// ---- Swift functions and objects as userdata ------------------------------------
//
// Both are full userdata holding one retained Swift reference, tagged with a
// user value that only this file can make: a userdata from elsewhere (io.stdout
// given an nslua metatable with debug.setmetatable) is never taken for one.

/// Pushes a Lua function that calls the Swift function behind `box`.
void nslua_pushswiftfunction(lua_State *L, void *box);
/// Pushes a userdata holding `obj` with the metatable registered as `metaname`.
void nslua_pushobject(lua_State *L, void *obj, const char *metaname);
/// The object held at `idx` if it is an nslua object whose metatable is the
/// one registered as `metaname` (as luaL_testudata, plus the tag); else NULL.
void *nslua_toobject(lua_State *L, int idx, const char *metaname);
/// The object held at `idx` if it is any nslua object; else NULL.
void *nslua_anyobject(lua_State *L, int idx);
/// Sets __gc (release once, never raise) on the metatable on top of the stack.
void nslua_tagmetatable(lua_State *L);

// ---- errors -------------------------------------------------------------------

/// Pushes an error object: a table {message =, kind =} whose metatable prints
/// it as its message and lets string methods and `..` work on it, so scripts
/// that treat errors as text keep working, and `err.kind` tells them apart.
void nslua_pusherror(lua_State *L, const char *message, size_t len, const char *kind);
/// Whether the value at `idx` is such an error object.
int nslua_iserror(lua_State *L, int idx);

/// Pushes the message `luaL_argerror` would raise (position, "bad argument
/// #n to 'f' (extramsg)", with the method/self adjustment), without raising.
/// `fallback` names the function when Lua cannot (called through pcall).
void nslua_pushargerror(lua_State *L, int arg, const char *extramsg, const char *fallback);

/// Pushes "chunk:line:" for the Lua code at `level` (as luaL_where), or "".
void nslua_where(lua_State *L, int level);

/// lua_pcall with a message handler that adds a traceback: to a string error
/// (as lua.c), or as the field `traceback` of an error object.
int nslua_docall(lua_State *L, int narg, int nres);

// ---- signals --------------------------------------------------------------------
//
// One handler for SIGINT, SIGTERM and SIGHUP (sigaction, no SA_RESTART, so
// blocking calls return EINTR). It only records the signal. Lua code notices
// it through a count hook that every coroutine inherits from the main state;
// Swift code that blocks polls nslua_signal_pending and returns early. A
// second Ctrl-C while the first is still unhandled kills, as in lua.c.
//
// SIGTERM and SIGHUP stay pending once received: a script that catches the
// error (pcall in a loop) gets it again at the next hook tick or primitive,
// until it ends. If it has not ended `grace` seconds after the signal (a
// __gc that loops, where Lua runs no hooks; a hook removed with
// debug.sethook; code stuck outside Lua), a watchdog thread calls `on_stuck`
// (which tears the lab down and exits).

void nslua_signals_install(double grace, void (*on_stuck)(int sig));
/// The pending signal (0: none), left pending.
int nslua_signal_pending(void);
/// The pending signal (0: none), now no longer pending (SIGTERM and SIGHUP stay).
int nslua_signal_take(void);
/// SIGTERM or SIGHUP, once received (the program exits 128 + n).
int nslua_terminate_signal(void);
/// The error text for a signal: "interrupted!", "terminated (SIGTERM)", ...
const char *nslua_signal_message(int sig);
/// Blocks (1) or unblocks (0) SIGINT, SIGTERM and SIGHUP in the calling thread.
void nslua_block_signals(int block);
/// From now on SIGINT, SIGTERM and SIGHUP end the process at once with
/// 128 + n (after teardown, while Lua closes: its finalizers run no hooks).
void nslua_signals_exit_now(void);
/// Installs the interrupt hook on `L` (new coroutines inherit it).
void nslua_sethook(lua_State *L);
/// Installs it again if Lua code removed it (debug.sethook()).
void nslua_checkhook(lua_State *L);

// ---- Lua's macros, as functions Swift can call --------------------------------

static inline int nslua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline void nslua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline const char *nslua_tostring(lua_State *L, int i) { return lua_tostring(L, i); }
static inline int nslua_isnoneornil(lua_State *L, int i) { return lua_isnoneornil(L, i); }
static inline int nslua_istable(lua_State *L, int i) { return lua_istable(L, i); }
static inline int nslua_isfunction(lua_State *L, int i) { return lua_isfunction(L, i); }
static inline void nslua_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void nslua_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void nslua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
static inline int nslua_pcall(lua_State *L, int n, int r, int h) { return lua_pcall(L, n, r, h); }
static inline void *nslua_getextraspace(lua_State *L) { return lua_getextraspace(L); }
static inline const char *nslua_lua_release(void) { return LUA_RELEASE; }

#endif
