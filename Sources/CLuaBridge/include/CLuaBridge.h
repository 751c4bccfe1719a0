// CLuaBridge: the C side of nslua's Lua binding.
//
// Lua raises errors with longjmp. Swift frames must never be jumped over, so
// every Swift function that Lua calls goes through `nslua_trampoline`: the
// Swift side pushes an error message and returns NSLUA_ERROR, and the
// trampoline raises only once the Swift frame has returned. Lua's function-
// like macros are re-exported as static inline functions Swift can call.
#ifndef NSLUA_CLUABRIDGE_H
#define NSLUA_CLUABRIDGE_H

#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include <signal.h>

/// Returned by a Swift function (through the dispatcher) when it has pushed an
/// error value that the trampoline must raise.
#define NSLUA_ERROR (-1)

/// Called by the trampoline with the box taken from upvalue 1. Returns the
/// number of results, or NSLUA_ERROR with the error value on top of the stack.
typedef int (*nslua_dispatch_fn)(lua_State *L, void *box);
/// Called by the box's __gc to drop Swift's reference. Never raises.
typedef void (*nslua_release_fn)(void *box);

/// Installs the Swift dispatcher and releaser (once per process).
void nslua_set_callbacks(nslua_dispatch_fn dispatch, nslua_release_fn release);

/// Pushes a Lua function that calls the Swift function behind `box` (an
/// opaque retained pointer). The box is kept in a full userdata whose __gc
/// calls the releaser, so the Swift closure lives exactly as long as the Lua
/// function does.
void nslua_pushswiftfunction(lua_State *L, void *box);

/// Pushes the message `luaL_argerror` would raise (position, "bad argument
/// #n to 'f' (extramsg)", with the method/self adjustment), without raising.
/// `fallback` names the function when Lua cannot (called through pcall).
void nslua_pushargerror(lua_State *L, int arg, const char *extramsg, const char *fallback);

/// Pushes "chunk:line:" for the Lua code at `level` (as luaL_where), or "".
void nslua_where(lua_State *L, int level);

/// lua_pcall with a traceback message handler, and with SIGINT turned into
/// the error "interrupted!" while the call runs (as lua.c does: the handler
/// only sets a hook; the hook raises; a second Ctrl-C kills as usual).
/// The error value (with traceback when it is a string) is left on the stack.
int nslua_docall(lua_State *L, int narg, int nres);

/// Set when SIGINT arrived during nslua_docall; Swift code that blocks for a
/// long time (sleeps, waits) polls it and returns early so the hook can fire.
int nslua_interrupt_pending(void);
void nslua_clear_interrupt(void);

/// SIGTERM/SIGHUP stop the running Lua code with an error, like Ctrl-C, and
/// are remembered (nslua_terminate_signal) so the program can exit 128+n.
void nslua_install_terminate_handlers(void);
int nslua_terminate_signal(void);
/// Blocks (1) or unblocks (0) SIGINT, SIGTERM and SIGHUP (around teardown).
void nslua_block_signals(int block);

/// Raises `sig`'s interruption inside the running Lua code from another
/// signal context (SIGTERM/SIGHUP): the next Lua instruction raises `msg`.
void nslua_interrupt(lua_State *L, const char *msg);

// ---- Lua's macros, as functions Swift can call --------------------------------

static inline int nslua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int nslua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline void nslua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void nslua_newtable(lua_State *L) { lua_newtable(L); }
static inline const char *nslua_tostring(lua_State *L, int i) { return lua_tostring(L, i); }
static inline lua_Number nslua_tonumber(lua_State *L, int i) { return lua_tonumber(L, i); }
static inline lua_Integer nslua_tointeger(lua_State *L, int i) { return lua_tointeger(L, i); }
static inline int nslua_isnoneornil(lua_State *L, int i) { return lua_isnoneornil(L, i); }
static inline int nslua_isnil(lua_State *L, int i) { return lua_isnil(L, i); }
static inline int nslua_istable(lua_State *L, int i) { return lua_istable(L, i); }
static inline int nslua_isfunction(lua_State *L, int i) { return lua_isfunction(L, i); }
static inline void nslua_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void nslua_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void nslua_replace(lua_State *L, int i) { lua_replace(L, i); }
static inline void *nslua_newuserdata(lua_State *L, size_t n) { return lua_newuserdata(L, n); }
static inline void nslua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
static inline int nslua_pcall(lua_State *L, int n, int r, int h) { return lua_pcall(L, n, r, h); }
static inline void *nslua_getextraspace(lua_State *L) { return lua_getextraspace(L); }
static inline int nslua_getmetatable_named(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }
static inline void nslua_pushliteral(lua_State *L, const char *s) { lua_pushstring(L, s); }


/// Pushes a full userdata holding `obj` (a retained Swift object) with the
/// metatable registered under `metaname`. The metatable's __gc must be
/// `nslua_object_gc`, which hands the object back to the releaser.
void nslua_pushobject(lua_State *L, void *obj, const char *metaname);
/// The object held by the userdata at `idx`, if it carries the metatable
/// registered under `metaname`; NULL otherwise (and once collected).
void *nslua_toobject(lua_State *L, int idx, const char *metaname);
/// The object held by any nslua userdata at `idx`, or NULL.
void *nslua_anyobject(lua_State *L, int idx);
/// __gc of object userdata: releases the Swift object once. Never raises.
int nslua_object_gc(lua_State *L);
/// Marks the metatable on top of the stack as an nslua object class and sets
/// its __gc to nslua_object_gc.
void nslua_tagmetatable(lua_State *L);


/// While the REPL waits at its prompt, SIGINT only sets a flag (and makes the
/// blocked read fail with EINTR) so the REPL can clear the line.
void nslua_prompt_sigint_begin(void);
void nslua_prompt_sigint_end(void);
/// Whether SIGINT arrived since the last call; clears the flag.
int nslua_prompt_sigint_take(void);

static inline const char *nslua_lua_release(void) { return LUA_RELEASE; }

#endif
