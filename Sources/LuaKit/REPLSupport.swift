import CLua
import CLuaBridge

/// What a REPL needs from a Lua state beyond running code: a readable
/// printer for results, and completion of globals, fields and methods.
extension Lua {
    private static let replHelpers = #"""
    local rawget, type, tostring, getmetatable, pairs, next = rawget, type, tostring, getmetatable, pairs, next
    local sort, concat, format = table.sort, table.concat, string.format
    local keywords = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
      "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while" }

    local function key_repr(k)
      if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
      if type(k) == "string" then return "[" .. format("%q", k) .. "]" end
      return "[" .. tostring(k) .. "]"
    end

    local function value_repr(v)
      if type(v) == "string" then return format("%q", v) end
      return tostring(v)
    end

    -- A shallow, sorted view of a table: { 1, 2, name = "x", sub = table: 0x... }
    local function show(v)
      if type(v) ~= "table" or (getmetatable(v) and getmetatable(v).__tostring) then return tostring(v) end
      local parts, n = {}, #v
      for i = 1, n do parts[#parts + 1] = value_repr(v[i]) end
      local keys = {}
      for k in next, v do
        if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
      end
      sort(keys, function(a, b)
        local ta, tb = type(a), type(b)
        if ta ~= tb then return ta < tb end
        if ta == "number" or ta == "string" then return a < b end
        return tostring(a) < tostring(b)
      end)
      for _, k in ipairs(keys) do parts[#parts + 1] = key_repr(k) .. " = " .. value_repr(v[k]) end
      if #parts == 0 then return "{}" end
      return "{ " .. concat(parts, ", ") .. " }"
    end

    -- An object may say what the REPL shows for it (__repl), or nothing
    -- (nil: it has printed itself already).
    local function print_results(...)
      local n = select("#", ...)
      if n == 0 then return end
      local out = {}
      for i = 1, n do
        local v = (select(i, ...))
        local mt = getmetatable(v)
        local repl = type(mt) == "table" and rawget(mt, "__repl")
        if repl then
          local s = repl(v)
          if s ~= nil then out[#out + 1] = s end
        else
          out[#out + 1] = show(v)
        end
      end
      if #out > 0 then print(concat(out, "\t")) end
    end

    -- Names that can follow `text`: globals, `t.field`, `obj:method`.
    local function complete(text)
      local base, sep, partial = text:match("^(.-)([.:])([%w_]*)$")
      local scope
      if not base then
        partial = text:match("([%w_]*)$")
        base, sep, scope = "", "", _G
      else
        scope = _G
        for name in (base .. "."):gmatch("([^.]*)%.") do
          if type(scope) ~= "table" or name == "" then return {} end
          scope = rawget(scope, name)
        end
      end
      local prefix = text:sub(1, #text - #partial)
      local names, seen = {}, {}
      local function add(k, v)
        if type(k) == "string" and k:match("^[%a_][%w_]*$") and k:sub(1, #partial) == partial and not seen[k]
           and (sep ~= ":" or type(v) == "function") then
          seen[k] = true
          names[#names + 1] = prefix .. k
        end
      end
      local function add_table(t)
        if type(t) ~= "table" then return end
        for k, v in next, t do add(k, v) end
      end
      if type(scope) == "table" then add_table(scope) end
      local mt = getmetatable(scope)
      if type(mt) == "table" then
        if sep == ":" then add_table(rawget(mt, "__methods")) else
          add_table(rawget(mt, "__fields"))
          if type(scope) == "table" then add_table(rawget(mt, "__index")) end
        end
      end
      if sep == "" then for _, k in ipairs(keywords) do add(k, true) end end
      sort(names)
      return names
    end

    return print_results, complete
    """#

    /// Loads the REPL helpers once: (printer, completer).
    private func replHelperFunctions() throws -> (LuaValue, LuaValue) {
        if let cached = replCache { return cached }
        let values = try run(Lua.replHelpers, name: "=repl")
        guard values.count == 2 else { throw LuaError.runtime("repl helpers did not load") }
        replCache = (values[0], values[1])
        return (values[0], values[1])
    }

    /// Compiles `code` into a function value; nothing runs yet.
    public func compile(_ code: String, name: String) throws(LuaStatus) -> LuaValue {
        try load(Array(code.utf8), name: name)
        return .ref(LuaRef(lua: self, ref: luaL_ref(state, nslua_registryindex())))
    }

    /// Runs a compiled chunk as the REPL does and prints what it returns:
    /// `tostring`, and tables as a shallow sorted view.
    public func evaluate(_ chunk: LuaValue) throws(LuaStatus) {
        let L = state
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        push(chunk, on: L)
        let n = try pcall()
        guard n > 0 else { return }
        guard let printer = try? replHelperFunctions().0 else { return }
        push(printer, on: L)
        nslua_insert(L, -(n + 1))
        if nslua_docall(L, n, 0) != LUA_OK {
            throw .runtime(describeError(at: -1, on: L), kind: nil)
        }
    }

    /// Completions for the word `text` (e.g. "str", "string.fo", "obj:me").
    public func completions(for text: String) -> [String] {
        guard let complete = try? replHelperFunctions().1,
              let results = try? call(complete, [.string(text)]),
              case .table(let t)? = results.first else { return [] }
        return t.array.compactMap(\.stringValue)
    }
}
